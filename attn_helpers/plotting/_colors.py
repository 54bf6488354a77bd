"""The course's plot colours, taken from viridis."""

# Two colours from viridis that differ strongly in lightness (readable in grey-scale too).
BAR_COLOR = "#21918c"  # viridis(0.5), teal
HIGHLIGHT_COLOR = "#440154"  # viridis(0.0), dark purple
LINE_COLOR = "#3b528b"  # viridis(0.25), blue
