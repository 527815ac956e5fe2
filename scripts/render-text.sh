#!/bin/sh
# Renders plain text as printed A4 pages, for the OCR tests, benchmark and
# demo: lays the lines out as PostScript (Times-Roman) and renders them with
# Ghostscript, then optionally degrades the image with ImageMagick the way a
# scanner or a fax would. Writes OUT.txt, the text as laid out (pages
# separated by a form feed), and the rendered file.
#
# usage: render-text.sh [options] TEXT_FILE OUT
#   --dpi N        resolution of PNG output (default 300)
#   --skip N       lines of the text to skip first (default 0)
#   --lines N      lines per page (default 48)
#   --pages N      pages (default 1); more than one page needs --pdf
#   --size PT      font size in points (default 11)
#   --pdf          write OUT.pdf instead of OUT.png
#   --degrade KIND one of rotate, blur, noise, jpeg, all: OUT.png (or
#                  OUT.jpg for jpeg and all) from the clean page
set -eu
dpi=300 skip=0 lines=48 pages=1 size=11 pdf=0 degrade=""
while [ $# -gt 2 ]; do
	case "$1" in
	--dpi) dpi=$2; shift 2 ;;
	--skip) skip=$2; shift 2 ;;
	--lines) lines=$2; shift 2 ;;
	--pages) pages=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--pdf) pdf=1; shift ;;
	--degrade) degrade=$2; shift 2 ;;
	*) echo "render-text.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ $# -eq 2 ] || { echo "usage: render-text.sh [options] TEXT_FILE OUT" >&2; exit 2; }
text=$1 out=$2

# Printable ASCII only (the standard fonts' encoding), tabs expanded; the
# truth file holds exactly the characters drawn.
LC_ALL=C expand "$text" | LC_ALL=C awk -v skip="$skip" -v per="$lines" -v pages="$pages" \
	-v size="$size" -v ps="$out.ps" -v truth="$out.txt" '
	BEGIN {
		lead = size * 1.25
		printf "%%!PS-Adobe-3.0\n/Times-Roman findfont %s scalefont setfont\n", size > ps
		n = 0; page = 0
	}
	NR <= skip { next }
	{
		gsub(/[^\040-\176]/, "")
		if (n == 0) {
			if (page == pages) exit
			page++
			if (page > 1) printf "\f" > truth
			y = 842 - 72
		}
		line = $0
		printf "%s\n", line > truth
		gsub(/\\/, "\\\\", line); gsub(/\(/, "\\(", line); gsub(/\)/, "\\)", line)
		printf "64 %.2f moveto (%s) show\n", y, line > ps
		y -= lead
		if (++n == per) { printf "showpage\n" > ps; n = 0 }
	}
	END { if (n > 0) printf "showpage\n" > ps }
'
gs_run() {
	gs -q -dSAFER -dBATCH -dNOPAUSE -sPAPERSIZE=a4 "$@" "$out.ps" >/dev/null
}
if [ "$pdf" = 1 ]; then
	gs_run -sDEVICE=pdfwrite -o "$out.pdf"
	rm -f "$out.ps"
	exit 0
fi
[ "$pages" = 1 ] || { echo "render-text.sh: several pages need --pdf" >&2; exit 2; }
gs_run -sDEVICE=pnggray -r"$dpi" -dTextAlphaBits=4 -dGraphicsAlphaBits=4 -o "$out.png"
rm -f "$out.ps"
# /usr/bin/convert: the real ImageMagick, whatever else is first in PATH.
im=/usr/bin/convert
case "$degrade" in
"") ;;
rotate) "$im" "$out.png" -background white -rotate 1.2 "$out.png" ;;
blur) "$im" "$out.png" -blur 0x1.2 "$out.png" ;;
noise) "$im" "$out.png" -attenuate 0.6 +noise Gaussian -colorspace Gray "$out.png" ;;
jpeg) "$im" "$out.png" -quality 25 "$out.jpg" && rm -f "$out.png" ;;
all)
	"$im" "$out.png" -background white -rotate 0.8 -blur 0x0.8 -attenuate 0.4 \
		+noise Gaussian -colorspace Gray -quality 40 "$out.jpg" && rm -f "$out.png" ;;
*) echo "render-text.sh: unknown degradation $degrade" >&2; exit 2 ;;
esac
