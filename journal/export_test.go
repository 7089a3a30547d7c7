package journal

import "io"

// SetLines makes h write its lines (the fallback, or the stream) to w.
func SetLines(h *Handler, w io.Writer) { h.lines = w }
