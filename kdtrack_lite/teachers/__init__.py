"""Teachers that are not trained here: the frozen open_clip image encoder, its embedding cache, and the
clearly labelled offline stand-in (a colour-histogram descriptor, not CLIP)."""

from .cache import cache_embeddings, embedding_key
from .clip import ClipTeacher, TeacherUnavailable, load_clip_teacher, teacher_banner
from .standin import ColourHistogramTeacher, semantic_teacher
from .hub import offline_reason, probe_hub

__all__ = ["ClipTeacher", "TeacherUnavailable", "load_clip_teacher", "teacher_banner", "cache_embeddings",
           "embedding_key", "offline_reason", "probe_hub", "ColourHistogramTeacher",
           "semantic_teacher"]
