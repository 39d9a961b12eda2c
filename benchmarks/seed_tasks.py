"""Seconds per epoch of the tasks of the seed papers' CPU-sized experiments, under each regularizer
their studies run, side by side with the task's plain model (``none``) in the same process.

``mnist_vae`` (Davidson et al., UAI 2018, §5.2; one epoch = 50,000 dynamically binarised images in
batches of 64), ``vmf_circles`` (§5.1; 2,000 points) and ``coulomb_grid`` (Sansone et al., ECAI 2020;
one period = 1,000 full-batch steps on the 500 grid points). An epoch's time is the gap between two
of the training loop's reports (training steps, validation, model selection); the test metrics are
not timed (``--epochs`` short runs on small evaluation sets). Printed: the median and its ratio to
``none`` on the same task. One thread per run (``OMP_NUM_THREADS=1``, as the grids run):

    OMP_NUM_THREADS=1 python benchmarks/seed_tasks.py [--epochs 4] [--tasks mnist_vae vmf_circles coulomb_grid]
"""
import argparse

from regbench.errors import RegbenchError
from timing import seconds_per_period

SETTINGS = {  # short runs: small evaluation sets, no figures
    "mnist_vae": {"eval_size": 200, "iw_samples": 2, "knn_repeats": 1, "d": 11},
    "vmf_circles": {"eval_size": 200, "iw_samples": 2, "figures": False},
    "coulomb_grid": {"test_per_component": 10, "gen_samples": 200, "cv_samples": 100},
}
STEPS = 2000  # coulomb_grid's run: 20 periods of 100 steps, timed as 1,000 steps
REGULARIZERS = {"mnist_vae": ["kl_gauss", "vmf", "power_spherical"],
                "vmf_circles": ["kl_gauss", "vmf", "power_spherical"],
                "coulomb_grid": ["kl_gauss", "mmd_imq", "coulomb", "eccentric", "vmf"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--tasks", nargs="+", default=list(SETTINGS))
    args = parser.parse_args()
    print(f"{'task':<14} {'regularizer':<16} {'s/epoch':>9} {'none':>9} {'ratio':>6}")
    for task in args.tasks:
        length = {"iterations": STEPS} if task == "coulomb_grid" else {"epochs": args.epochs}
        factor = 1000 / (STEPS // 20) if task == "coulomb_grid" else 1

        def timed(reg):
            return factor * seconds_per_period(task, reg, {**SETTINGS[task], **length})
        try:
            base = timed("none")
        except RegbenchError as exc:  # a dataset that is not there
            print(f"{task:<14} skipped: {exc}")
            continue
        print(f"{task:<14} {'none':<16} {base:>9.3f} {base:>9.3f} {1:>6.2f}", flush=True)
        for reg in REGULARIZERS[task]:
            seconds = timed(reg)
            print(f"{task:<14} {reg:<16} {seconds:>9.3f} {base:>9.3f} {seconds / base:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
