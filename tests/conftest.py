import os

import pytest

os.environ.setdefault("KDTRACK_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


# Small sequences shared by the reader/writer tests (a test module may define its own ``mot``).
@pytest.fixture(scope="module")
def mot():
    from kdtrack_lite.data.mot_synth import MOTSceneConfig, generate_mot_sequence

    return generate_mot_sequence(MOTSceneConfig.make("fast", num_frames=6, width=96, height=72,
                                                     max_height=30, min_height=10, density=4), seed=1)


@pytest.fixture(scope="module")
def sot():
    from kdtrack_lite.data.sot_synth import SOTConfig, generate_sot_sequence

    return generate_sot_sequence(SOTConfig.make("fast", num_frames=8, width=64, height=64, min_size=12,
                                                max_size=20), seed=2, attributes=["IV"])
