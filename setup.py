"""Package discovery only (metadata lives in pyproject.toml).

Profiles and workloads sit at the top of the repository (data, not code) and ship inside the wheel as the packages
edgesim.hw_profiles / edgesim.workloads, so a plain (non-editable) install finds them. setuptools' automatic
discovery cannot combine found packages with mapped directories, hence this file.
"""

from setuptools import find_packages, setup

DATA_PACKAGES = {
    "edgesim.hw_profiles": "hw_profiles",
    "edgesim.hw_profiles.runtimes": "hw_profiles/runtimes",
    "edgesim.hw_profiles.llm_runtimes": "hw_profiles/llm_runtimes",
    "edgesim.workloads": "workloads",
}

setup(
    packages=find_packages(include=["edgesim", "edgesim.*"]) + list(DATA_PACKAGES),
    package_dir=DATA_PACKAGES,
)
