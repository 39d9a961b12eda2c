"""Wall-clock timing shared by the benchmarks: CUDA work is synchronised before and after."""
import time

import torch


def seconds(work, device) -> float:
    """Seconds that ``work()`` takes on ``device`` (a name or a ``torch.device``)."""
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    work()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start
