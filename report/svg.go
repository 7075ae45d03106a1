package report

import (
	"fmt"
	"math"
	"strings"
)

// The diagram: the nodes on a circle, each corosync link a line of its own colour between
// every two nodes (parallel lines for several links) labelled with knet's average round trip,
// a down link dashed red, the QDevice below with dashed lines to the nodes, and a legend of
// the links' networks. Plain SVG 1.1, no script, no external font or style: any browser
// shows it and XML tools read it.

var linkColours = []string{"#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"}

const (
	svgWidth  = 760
	nodeW     = 190
	nodeH     = 44 // and a line per link
	downColor = "#d62728"
)

type point struct{ x, y float64 }

// SVG draws the cluster.
func (c *Cluster) SVG() string {
	n := len(c.Nodes)
	nodeH := nodeH + 13*max(len(c.Links), 1)
	radius := 125.0 + 30*float64(max(n-3, 0))
	cx := svgWidth / 2.0
	cy := 70 + radius + float64(nodeH)/2
	height := cy + radius + float64(nodeH)/2 + 40
	if c.QDevice != nil {
		height += 90
	}
	legendY := height
	height += 24 + 18*float64(len(c.Links))

	pos := make([]point, n)
	for i := range c.Nodes {
		switch n {
		case 1:
			pos[i] = point{cx, cy}
		case 2:
			pos[i] = point{cx - radius*1.4 + float64(i)*radius*2.8, cy}
		default:
			a := -math.Pi/2 + 2*math.Pi*float64(i)/float64(n)
			pos[i] = point{cx + radius*1.6*math.Cos(a), cy + radius*math.Sin(a)}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%.0f" viewBox="0 0 %d %.0f" font-family="sans-serif" font-size="12">`+"\n", svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc("Cluster "+c.Name))
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%.0f" fill="#ffffff"/>`+"\n", svgWidth, height)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="18" font-weight="bold">%s</text>`+"\n", 20, esc("Cluster "+c.Name))
	fmt.Fprintf(&b, `<text x="%d" y="48" fill="#555555">%s</text>`+"\n", 20, esc(fmt.Sprintf("config version %d, %s, quorum %d of %d votes", c.ConfigVersion, plural(n, "node"), c.Quorum.Quorum, c.Quorum.Expected)))

	// Links first, so that the nodes are drawn over their ends.
	b.WriteString(`<g id="links">` + "\n")
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			for k, l := range c.Links {
				off := (float64(k) - float64(len(c.Links)-1)/2) * 10
				p, q := offset(pos[i], pos[j], off)
				colour := linkColours[l.Number%len(linkColours)]
				lat, ok := c.latency(c.Nodes[i].Name, c.Nodes[j].Name, l.Number)
				dash := ""
				label := "-"
				switch {
				case ok && lat.Down:
					colour, dash, label = downColor, ` stroke-dasharray="6,4"`, "down"
				case ok && lat.Known:
					label = fmt.Sprintf("%.2f ms", lat.AveMS)
				}
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s><title>%s</title></line>`+"\n",
					p.x, p.y, q.x, q.y, colour, dash, esc(fmt.Sprintf("link%d %s – %s: %s", l.Number, c.Nodes[i].Name, c.Nodes[j].Name, label)))
				// Labels of parallel links sit apart along the line, so that they do not overlap.
				t := 0.5
				if len(c.Links) > 1 {
					t = 0.4 + 0.2*float64(k)/float64(len(c.Links)-1)
				}
				mx, my := p.x+(q.x-p.x)*t, p.y+(q.y-p.y)*t
				if label == "-" {
					continue // nothing measured: the line alone says the link exists
				}
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s" font-size="11" stroke="#ffffff" stroke-width="3" paint-order="stroke">%s</text>`+"\n",
					mx, my+4, colour, esc(label))
			}
		}
	}
	b.WriteString("</g>\n")

	if c.QDevice != nil {
		q := point{cx, height - 24 - 18*float64(len(c.Links)) - 60}
		b.WriteString(`<g id="qdevice">` + "\n")
		for i := range c.Nodes {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888888" stroke-width="1.5" stroke-dasharray="3,3"/>`+"\n", pos[i].x, pos[i].y, q.x, q.y)
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="170" height="40" rx="6" fill="#f4f4f4" stroke="#888888"/>`+"\n", q.x-85, q.y-20)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold">%s</text>`+"\n", q.x, q.y-3, esc("QDevice"))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%s</text>`+"\n", q.x, q.y+12, esc(fmt.Sprintf("%s, %s", c.QDevice.Host, plural(c.QDevice.Votes, "vote"))))
		b.WriteString("</g>\n")
	}

	b.WriteString(`<g id="nodes">` + "\n")
	for i, nd := range c.Nodes {
		p := pos[i]
		fill, stroke := "#eef5ff", "#1f4e79"
		if !nd.Online {
			fill, stroke = "#fdecea", downColor
		}
		fmt.Fprintf(&b, `<g id="%s">`+"\n", esc("node-"+nd.Name))
		top := p.y - float64(nodeH)/2
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%d" height="%d" rx="8" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n", p.x-nodeW/2, top, nodeW, nodeH, fill, stroke)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold" font-size="13">%s</text>`+"\n", p.x, top+17, esc(nd.Name))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="#333333">%s</text>`+"\n", p.x, top+32, esc(fmt.Sprintf("nodeid %d, %s, %s", nd.NodeID, plural(nd.Votes, "vote"), nd.State)))
		for k, l := range nd.Links {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10" fill="%s">%s</text>`+"\n", p.x, top+46+13*float64(k),
				linkColours[l.Number%len(linkColours)], esc(fmt.Sprintf("link%d %s", l.Number, l.Addr)))
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</g>\n")

	b.WriteString(`<g id="legend">` + "\n")
	for k, l := range c.Links {
		y := legendY + 18*float64(k)
		colour := linkColours[l.Number%len(linkColours)]
		fmt.Fprintf(&b, `<line x1="20" y1="%.1f" x2="50" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", y-4, y-4, colour)
		nets := strings.Join(l.Networks, ", ")
		if nets == "" {
			nets = "network unknown"
		}
		fmt.Fprintf(&b, `<text x="58" y="%.1f">%s</text>`+"\n", y, esc(fmt.Sprintf("link%d: %s (label: knet's average round trip)", l.Number, nets)))
	}
	fmt.Fprintf(&b, `<text x="20" y="%.1f" fill="#555555" font-size="11">%s</text>`+"\n", legendY+18*float64(len(c.Links)), esc("dashed red: link down; red node: offline"))
	b.WriteString("</g>\n</svg>\n")
	return b.String()
}

// offset moves the segment p-q sideways by d pixels, for parallel links.
func offset(p, q point, d float64) (point, point) {
	dx, dy := q.x-p.x, q.y-p.y
	l := math.Hypot(dx, dy)
	if l == 0 {
		return p, q
	}
	nx, ny := -dy/l*d, dx/l*d
	return point{p.x + nx, p.y + ny}, point{q.x + nx, q.y + ny}
}

// esc escapes text for XML character data and attribute values.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		default:
			if r < 0x20 && r != '\t' && r != '\n' {
				continue // not allowed in XML 1.0
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}
