// Server-rendered SVG charts: the geometry is computed here, and the
// templates only place elements (templates/chart_*.html), so a chart is
// plain markup under the CSP and every label goes through html/template's
// escaping.

package console

import (
	"fmt"
	"math"
	"sort"

	"github.com/exchange-gov/exchange/agreements"
	"github.com/exchange-gov/exchange/exchange/stewardship"
)

// flowChart is agencies on a circle and one arrow per active agreement,
// from the provider's agency to the consumer, its width by volume.
type flowChart struct {
	Width, Height int
	Nodes         []flowNode
	Edges         []flowEdge
	Max           int64 // largest volume, for the legend
}

type flowNode struct {
	ID, Label string
	// Lines are Label wrapped for the picture; joined they are Label.
	Lines []string
	X, Y  float64
	// Anchor places the label outside the circle: start, middle or end.
	Anchor     string
	LX, LY     float64
	Agreements int // active agreements touching the agency
}

type flowEdge struct {
	Agreement, From, To string
	Volume              int64
	Path                string // SVG path data
	Width               float64
}

const (
	chartW, chartH = 900, 480
	labelWidth     = 26 // characters per label line
	nodeRadius     = 18
	minEdge        = 1.5
	maxEdge        = 12
)

// buildFlows lays out agencies and the active agreements of list with
// their delivered volumes.
func buildFlows(agencies []agreements.Agency, list []stewardship.View, volume map[string]int64) flowChart {
	ch := flowChart{Width: chartW, Height: chartH}
	names := map[string]string{}
	for _, a := range agencies {
		names[a.ID] = a.ID
		if a.Name != "" {
			names[a.ID] = a.Name
		}
	}
	type pair struct{ from, to string }
	var active []stewardship.View
	touched := map[string]int{}
	for _, a := range list {
		if a.Status != string(agreements.StatusActive) {
			continue
		}
		active = append(active, a)
		touched[providerAgency(a.Provider)]++
		touched[a.Consumer]++
	}
	ids := make([]string, 0, len(names))
	for id := range names {
		ids = append(ids, id)
	}
	for id := range touched {
		if _, ok := names[id]; !ok {
			names[id] = id
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	pos := map[string]flowNode{}
	// An ellipse wider than high leaves room for the labels at the sides.
	cx, cy, rx, ry := float64(chartW)/2, float64(chartH)/2, float64(chartW)/2-220, float64(chartH)/2-80
	for i, id := range ids {
		ang := -math.Pi/2 + 2*math.Pi*float64(i)/float64(max(len(ids), 1))
		n := flowNode{ID: id, Label: names[id], Lines: wrap(names[id], labelWidth),
			X: cx + rx*math.Cos(ang), Y: cy + ry*math.Sin(ang), Agreements: touched[id]}
		n.LX, n.LY = cx+(rx+nodeRadius+8)*math.Cos(ang), cy+(ry+nodeRadius+8)*math.Sin(ang)+4
		switch c := math.Cos(ang); {
		case c > 0.3:
			n.Anchor = "start"
		case c < -0.3:
			n.Anchor = "end"
		default:
			n.Anchor = "middle"
			if math.Sin(ang) < 0 {
				n.LY -= 6 + 15*float64(len(n.Lines)-1)
			} else {
				n.LY += 10
			}
		}
		pos[id] = n
		ch.Nodes = append(ch.Nodes, n)
	}
	for _, a := range active {
		ch.Max = max(ch.Max, volume[a.ID])
	}
	seen := map[pair]int{}
	for _, a := range active {
		from, to := providerAgency(a.Provider), a.Consumer
		k := seen[pair{from, to}]
		seen[pair{from, to}]++
		e := flowEdge{Agreement: a.ID, From: from, To: to, Volume: volume[a.ID], Width: minEdge}
		if ch.Max > 0 {
			e.Width = minEdge + (maxEdge-minEdge)*float64(e.Volume)/float64(ch.Max)
		}
		e.Path = curve(pos[from], pos[to], k)
		ch.Edges = append(ch.Edges, e)
	}
	return ch
}

// curve is a quadratic Bézier from a to b, bent to the right of its
// direction by more for each parallel edge k, so two agreements between
// the same agencies (and the two directions) stay apart.
func curve(a, b flowNode, k int) string {
	dx, dy := b.X-a.X, b.Y-a.Y
	l := math.Hypot(dx, dy)
	if l == 0 {
		return ""
	}
	ux, uy := dx/l, dy/l
	// Start and end on the node circles.
	sx, sy := a.X+ux*nodeRadius, a.Y+uy*nodeRadius
	ex, ey := b.X-ux*(nodeRadius+4), b.Y-uy*(nodeRadius+4)
	bend := 0.12*l + 22*float64(k)
	mx, my := (sx+ex)/2-uy*bend, (sy+ey)/2+ux*bend
	return fmt.Sprintf("M%.1f %.1fQ%.1f %.1f %.1f %.1f", sx, sy, mx, my, ex, ey)
}

func providerAgency(dataset string) string {
	a := agreements.Agreement{Provider: dataset}
	return a.ProviderAgency()
}

// wrap cuts s into lines of about width characters at spaces, each space
// kept at the end of its line, so the lines joined are s.
func wrap(s string, width int) []string {
	var lines []string
	for len([]rune(s)) > width {
		r := []rune(s)
		cut := -1
		for i := width; i > 0; i-- {
			if r[i-1] == ' ' {
				cut = i
				break
			}
		}
		if cut < 0 {
			break // one long word: leave it whole
		}
		lines = append(lines, string(r[:cut]))
		s = string(r[cut:])
	}
	return append(lines, s)
}
