package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxHex is how many bytes of a binary value the viewer dumps.
const maxHex = 4096

// value is a stored value as the viewer shows it.
type value struct {
	Size int
	Kind string // "json", "text" or "binary"
	Text string // the text, pretty-printed when JSON
	Hex  string // a hex dump of the first maxHex bytes, for binary
	More int    // bytes past the dump
}

// viewValue decides how to show b: JSON (pretty-printed), text, or size and
// hex. Text is valid UTF-8 without control characters other than tab and
// line ends; JSON is text that parses as a JSON object or array, or a JSON
// scalar.
func viewValue(b []byte) value {
	v := value{Size: len(b)}
	switch {
	case isText(b) && json.Valid(b) && len(bytes.TrimSpace(b)) > 0:
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "  "); err == nil {
			v.Kind, v.Text = "json", out.String()
			return v
		}
		fallthrough
	case isText(b):
		v.Kind, v.Text = "text", string(b)
	default:
		v.Kind = "binary"
		n := min(len(b), maxHex)
		v.Hex, v.More = hexDump(b[:n]), len(b)-n
	}
	return v
}

func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
	}
	return true
}

// hexDump formats b as lines of 16 bytes: offset, hex, and the printable
// ASCII characters.
func hexDump(b []byte) string {
	var sb strings.Builder
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		fmt.Fprintf(&sb, "%08x  ", off)
		for i := range 16 {
			if i < len(line) {
				fmt.Fprintf(&sb, "%02x ", line[i])
			} else {
				sb.WriteString("   ")
			}
			if i == 7 {
				sb.WriteByte(' ')
			}
		}
		sb.WriteString(" |")
		for _, c := range line {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			sb.WriteByte(c)
		}
		sb.WriteString("|\n")
	}
	return sb.String()
}

// prettyJSON indents a JSON value; "" for none.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return string(raw)
	}
	return out.String()
}

// relative says how far t is from now: "in 3 m", "in 2 h 5 m", "4 s ago".
// app.js recomputes the same text every second.
func relative(t, now time.Time) string {
	d := t.Sub(now).Truncate(time.Second)
	past := d < 0
	if past {
		d = -d
	}
	s := int64(d / time.Second)
	var txt string
	switch {
	case s < 60:
		txt = strconv.FormatInt(s, 10) + " s"
	case s < 3600:
		txt = strconv.FormatInt(s/60, 10) + " m"
	case s < 48*3600:
		txt = strconv.FormatInt(s/3600, 10) + " h " + strconv.FormatInt(s%3600/60, 10) + " m"
	default:
		txt = strconv.FormatInt(s/86400, 10) + " d"
	}
	if past {
		return txt + " ago"
	}
	return "in " + txt
}

// when is an expiration as the pages show it.
type when struct {
	Unix int64
	Abs  string // RFC 3339, UTC
	Rel  string // "in 3 m"
}

func (d *Dashboard) when(t time.Time) *when {
	if t.IsZero() {
		return nil
	}
	return &when{Unix: t.Unix(), Abs: t.UTC().Format(time.RFC3339), Rel: relative(t, d.opts.Clock())}
}

func (d *Dashboard) funcs() template.FuncMap {
	return template.FuncMap{
		"compact": func(raw json.RawMessage) string {
			if len(raw) == 0 {
				return ""
			}
			var out bytes.Buffer
			if json.Compact(&out, raw) != nil {
				return string(raw)
			}
			s := out.String()
			if len(s) > 80 {
				s = s[:77] + "…"
			}
			return s
		},
		"pct": func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) },
		"bucket": func(f float64) string {
			return strconv.FormatFloat(f, 'f', 4, 64)
		},
		"bytes": func(n int) string {
			switch {
			case n < 1<<10:
				return strconv.Itoa(n) + " B"
			case n < 1<<20:
				return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
			default:
				return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
			}
		},
		"join": strings.Join,
	}
}
