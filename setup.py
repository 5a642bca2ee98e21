"""seqgan_tf: SeqGAN in TensorFlow 2 / Keras 3.

TensorFlow is an extra so that each machine picks its wheel:
  pip install -e '.[cpu]'   # tensorflow-cpu (no CUDA libraries; CPU machines)
  pip install -e '.[gpu]'   # tensorflow[and-cuda]
  pip install -e '.[cpu,test,plot]'  # plus the test tools and plots
Add `-c constraints.txt` for the exact versions the tests passed with.
"""

from setuptools import find_packages, setup

TF_VERSION = "2.21.*"

setup(
    name="seqgan_tf",
    version="0.1.0",
    description="SeqGAN (Yu et al., AAAI 2017) in TensorFlow 2 / Keras 3",
    packages=find_packages(include=["seqgan_tf", "seqgan_tf.*"]),
    python_requires=">=3.10",
    install_requires=[
        "keras>=3.10,<3.16",  # optim.FusedAdam reads Keras internals: test before raising
        "absl-py>=2.0",
        "numpy>=1.26",
        "tensorboard>=2.21",  # TF no longer pulls it in
        "tensorflow-datasets>=4.9",
        "importlib_resources",  # TFDS needs it for builders defined in a package
        "scipy>=1.10",  # reads Nottingham's MATLAB file (scipy.io.loadmat)
    ],
    extras_require={
        "cpu": [f"tensorflow-cpu=={TF_VERSION}"],
        "gpu": [f"tensorflow[and-cuda]=={TF_VERSION}"],
        "test": ["pytest>=8", "nltk>=3.8"],  # nltk: BLEU reference in tests
        # The temperature sweep's figure (sweep.py); its tables need nothing.
        "plot": ["matplotlib>=3.8"],
    },
    entry_points={"console_scripts": ["seqgan=seqgan_tf.main:run"]},
)
