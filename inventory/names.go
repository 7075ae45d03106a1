package inventory

import "regexp"

const (
	maxLinks = 8 // pvecm create --link0..--link7
	// knet node ids are 16-bit and 0 is reserved, so corosync refuses anything larger.
	maxNodeID = 65535
)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func isEnvName(s string) bool { return envName.MatchString(s) }

// DidYouMean returns the candidate closest to word when it is close enough to be a typo, or
// "" when none is: a suggestion of an unrelated name sends the user the wrong way. It serves
// the cluster file's keys and values and the command line's command names alike.
func DidYouMean(word string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist > len(word)/2 {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance, good enough for key names of a few letters.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
