"""The Planetoid citation graphs (Cora, CiteSeer, PubMed) through ``torch_geometric``, offline.

The raw files (``ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}``, Yang et al., ICML 2016) are
read from ``<data dir>/planetoid/<Name>/raw/`` (under the data directory ``$REGBENCH_DATA``: the
files of ``kimiyoung/planetoid``'s ``data/`` folder, which torch_geometric downloads) and copied into
``<cache dir>/planetoid/<Name>/raw/``, where ``torch_geometric.datasets.Planetoid`` processes them.
A missing file is reported by name before torch_geometric could try to download it. The node
features (sparse bag-of-words: binary, TF-IDF for PubMed) come as a sparse COO tensor, row-normalised
on request (``NormalizeFeatures``, as Kipf & Welling's GCN; their GAE uses them raw). A file lock
serialises the copy and processing between concurrent runs; torch_geometric is imported only when a
graph is loaded, so that listing tasks stays fast.
"""
import fcntl
import shutil

from .files import file_digest
from ..errors import RegbenchError
from ..settings import cache_dir, data_dir

PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def check_raw_files(name: str) -> None:
    """Every raw file of ``name`` is in the cache or the data directory, else a clear error."""
    source, cached = data_dir() / "planetoid" / name / "raw", cache_dir() / "planetoid" / name / "raw"
    for file in (f"ind.{name.lower()}.{part}" for part in PARTS):
        if not (cached / file).exists() and not (source / file).exists():
            raise RegbenchError(f"Planetoid {name}: raw file {file} is missing; put it at "
                                f"{source / file} ($REGBENCH_DATA/planetoid/{name}/raw/{file})")


def raw_checksums(name: str) -> dict[str, str]:
    """``{planetoid/<name>/raw/<file>: "md5:…"}`` of the raw files a loaded graph was built from."""
    raw = cache_dir() / "planetoid" / name / "raw"
    return {f"planetoid/{name}/raw/{file}": f"md5:{file_digest(raw / file)}"
            for file in (f"ind.{name.lower()}.{part}" for part in PARTS)}


def load_planetoid(name: str, normalize: bool):
    """The graph ``name`` (``Cora``, ``CiteSeer`` or ``PubMed``) with the public split's masks."""
    from torch_geometric.datasets import Planetoid
    from torch_geometric.transforms import NormalizeFeatures

    source = data_dir() / "planetoid" / name / "raw"
    root = cache_dir() / "planetoid"
    raw = root / name / "raw"
    check_raw_files(name)
    raw.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for file in (f"ind.{name.lower()}.{part}" for part in PARTS):
            if (raw / file).exists():
                continue
            shutil.copyfile(source / file, raw / f"{file}.part")
            (raw / f"{file}.part").replace(raw / file)
        data = Planetoid(str(root), name, transform=NormalizeFeatures() if normalize else None)[0]
    data.x = data.x.to_sparse()
    return data

