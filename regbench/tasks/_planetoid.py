"""Base of the tasks on a Planetoid graph: its data files are checked and recorded."""
from ..datasets.planetoid import check_raw_files, raw_checksums
from ._base import Task


class PlanetoidTask(Task):
    """A task on the Planetoid graph ``dataset`` (set by each registered task)."""
    dataset = ""

    def check_data(self):
        check_raw_files(self.dataset)

    def data_checksums(self):
        return raw_checksums(self.dataset)
