"""Downstream classification on latent codes, with scikit-learn, as in §4.4 of Xuefeng Li and Alan
Blair, "Eccentric Regularization: Minimizing Hyperspherical Energy without explicit projection", IJCNN
2022, arXiv:2104.11610.

- ``knn_protocol`` (Table 2): KNN fitted on random labelled subsets of the training codes of size
  10 / 100 / 1000 / 10000 / 60000 with k = 1 / 1 / 5 / 10 / 15, error on the test codes, averaged over
  ``repeats`` subsets (the paper: 20 per run); a size equal to the pool is drawn once, a size
  larger than the pool is left out.
- ``attribute_errors`` (Table 3): for each binary attribute, a depth-1 tree (stump), a depth-8 tree
  and KNN(20) fitted on the training codes; test error averaged over the attributes, with the
  majority-class error for comparison (the paper: 20.0% on CelebA).
Errors are fractions (the paper's tables give percent), named as in ``baselines/``.
"""
from __future__ import annotations

import numpy as np

KNN_PROTOCOL = ((10, 1), (100, 1), (1000, 5), (10000, 10), (60000, 15))


def knn_protocol(z_pool, y_pool, z_test, y_test, repeats: int = 20, seed: int = 0,
                 protocol: tuple[tuple[int, int], ...] = KNN_PROTOCOL) -> dict:
    """``knn_error_<size>`` for each (labelled codes, k) of ``protocol`` (default: Table 2's)."""
    from sklearn.neighbors import KNeighborsClassifier
    rng = np.random.default_rng(seed)
    out = {}
    for size, k in protocol:
        if size > len(z_pool):
            continue
        errors = []
        for _ in range(1 if size == len(z_pool) else repeats):
            pick = rng.choice(len(z_pool), size, replace=False)
            knn = KNeighborsClassifier(k).fit(z_pool[pick], y_pool[pick])
            errors.append(np.mean(knn.predict(z_test) != y_test))
        out[f"knn_error_{size}"] = float(np.mean(errors))
    return out


def attribute_errors(z_train, a_train, z_test, a_test) -> dict:
    """``a_*``: n × attributes arrays of 0/1."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier
    knn = KNeighborsClassifier(20).fit(z_train, a_train).predict(z_test)
    errors = {"attr_error_dt1": [], "attr_error_dt8": [], "attr_error_majority": []}
    for j in range(a_train.shape[1]):
        for depth in (1, 8):
            tree = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(z_train, a_train[:, j])
            errors[f"attr_error_dt{depth}"].append(np.mean(tree.predict(z_test) != a_test[:, j]))
        majority = np.bincount(a_train[:, j], minlength=2).argmax()
        errors["attr_error_majority"].append(np.mean(a_test[:, j] != majority))
    out = {name: float(np.mean(values)) for name, values in errors.items()}
    out["attr_error_knn20"] = float(np.mean(knn != a_test))
    return out
