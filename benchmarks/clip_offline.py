"""How fast the CLIP teacher loader gives up on an unreachable hub (and what it returns).

    .venv/bin/python benchmarks/clip_offline.py
"""

import time
import warnings

from kdtrack_lite.teachers import TeacherUnavailable, load_clip_teacher, offline_reason, teacher_banner

t = time.perf_counter()
reason = offline_reason(1.0)
print(f"offline_reason(1.0): {time.perf_counter() - t:.3f} s -> {reason}")
t = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    teacher = load_clip_teacher("RN50", "openai")
print(f"load_clip_teacher('RN50', 'openai'): {time.perf_counter() - t:.2f} s -> {teacher.source}; {teacher_banner(teacher)}")
t = time.perf_counter()
try:
    load_clip_teacher("RN50", "openai", allow_fallback=False)
except TeacherUnavailable:
    print(f"allow_fallback=False raised TeacherUnavailable after {time.perf_counter() - t:.3f} s")
