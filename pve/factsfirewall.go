package pve

import (
	"fmt"
	"strconv"
	"strings"
)

// FirewallRule is one rule that drops or rejects, or one chain whose policy is drop, as the
// facts script lists them from `nft list ruleset` and iptables-save. Only what matters for
// corosync (UDP 5405-5412), the API (TCP 8006) and SSH (TCP 22) is read out of the text: the
// protocol and the ports. The probes decide whether traffic passes; a rule is only the likely
// cause when they find it blocked.
type FirewallRule struct {
	Tool  string // "nft" or "iptables"
	Table string // "inet/filter", "ip/filter", "ip6/filter"
	Chain string
	// Hook is "input", "output" or "forward" for an nft base chain or an iptables built-in
	// chain, "" for a chain that is only jumped to.
	Hook    string
	Policy  bool   // the chain's policy is drop (Text is then "")
	Verdict string // "drop" or "reject"
	Text    string // the rule as listed
	// Proto is "udp" or "tcp" when the rule says, else "".
	Proto string
	// Ports are the destination and source ports the rule matches; empty when it names none
	// (it then matches on something else, or everything).
	Ports []PortRange
	// Negated: the rule matches ports other than Ports ("!=", "!"), which preflight does not
	// try to reason about.
	Negated bool
}

// PortRange is an inclusive range of ports.
type PortRange struct{ From, To int }

// MatchesPort reports whether the rule names port for proto among its ports, so that it
// drops or rejects that traffic (when the rest of its conditions hold).
func (r FirewallRule) MatchesPort(proto string, port int) bool {
	if r.Policy || r.Negated || (r.Proto != "" && r.Proto != proto) {
		return false
	}
	for _, p := range r.Ports {
		if port >= p.From && port <= p.To {
			return true
		}
	}
	return false
}

// String is the rule as a person would look it up: where it is and what it says.
func (r FirewallRule) String() string {
	where := r.Tool + " " + r.Table + " chain " + r.Chain
	if r.Policy {
		return where + ": policy drop"
	}
	return where + ": " + r.Text
}

// parseFirewallRule reads "TOOL TABLE CHAIN HOOK TEXT" (a rule) or "TOOL TABLE CHAIN HOOK drop"
// (a policy), the facts script's [firewall] rule= and policy= values.
func parseFirewallRule(val string, policy bool) (FirewallRule, error) {
	f := strings.SplitN(val, " ", 5)
	if len(f) < 5 || f[0] == "" || f[2] == "" {
		return FirewallRule{}, fmt.Errorf("want TOOL TABLE CHAIN HOOK TEXT")
	}
	r := FirewallRule{Tool: f[0], Table: f[1], Chain: f[2], Hook: f[3], Policy: policy}
	if r.Hook == "-" {
		r.Hook = ""
		switch r.Chain {
		case "INPUT", "OUTPUT", "FORWARD":
			r.Hook = strings.ToLower(r.Chain)
		}
	}
	if policy {
		r.Verdict = "drop"
		return r, nil
	}
	r.Text = f[4]
	words := ruleWords(r.Text)
	if r.Tool == "iptables" {
		r.readIptables(words)
	} else {
		r.readNft(words)
	}
	return r, nil
}

// ruleWords splits a rule into words, dropping quoted strings (comments) so that a comment
// saying "drop" is not a verdict.
func ruleWords(text string) []string {
	var b strings.Builder
	quoted := false
	for _, c := range text {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '{' || c == '}' || c == ',':
			b.WriteString(" " + string(c) + " ")
		default:
			b.WriteRune(c)
		}
	}
	return strings.Fields(b.String())
}

// readNft reads "udp dport 5405-5412 drop", "tcp dport { 22, 8006 } reject with ...",
// "meta l4proto udp th dport 5405 drop", "udp dport != 5405 drop".
func (r *FirewallRule) readNft(w []string) {
	for i := 0; i < len(w); i++ {
		switch w[i] {
		case "drop", "reject":
			r.Verdict = w[i]
		case "udp", "tcp":
			if i+1 < len(w) && (w[i+1] == "dport" || w[i+1] == "sport") {
				r.Proto = w[i]
			}
		case "l4proto", "protocol":
			if i+1 < len(w) && (w[i+1] == "udp" || w[i+1] == "tcp") {
				r.Proto = w[i+1]
				i++
			}
		case "dport", "sport":
			j := i + 1
			if j < len(w) && w[j] == "!=" {
				r.Negated = true
				j++
			}
			var set []string
			if j < len(w) && w[j] == "{" {
				for j++; j < len(w) && w[j] != "}"; j++ {
					if w[j] != "," {
						set = append(set, w[j])
					}
				}
			} else if j < len(w) {
				set = []string{w[j]}
			}
			for _, s := range set {
				if p, ok := portRange(s, "-"); ok {
					r.Ports = append(r.Ports, p)
				}
			}
			i = j
		}
	}
}

// readIptables reads "-A INPUT -p udp -m udp --dport 5405:5412 -j DROP",
// "-A INPUT -p tcp -m multiport --dports 22,8006 -j REJECT", "! --dport 22".
func (r *FirewallRule) readIptables(w []string) {
	for i := 0; i < len(w); i++ {
		arg := ""
		if i+1 < len(w) {
			arg = w[i+1]
		}
		switch w[i] {
		case "-j":
			switch arg {
			case "DROP":
				r.Verdict = "drop"
			case "REJECT":
				r.Verdict = "reject"
			}
		case "-p", "--protocol":
			if arg == "udp" || arg == "tcp" {
				r.Proto = arg
			}
		case "!":
			if strings.HasPrefix(arg, "--") && strings.Contains(arg, "port") {
				r.Negated = true
			}
		case "--dport", "--sport", "--dports", "--sports", "--destination-port", "--source-port", "--ports":
			// "22,8006" arrives as "22" "," "8006" (ruleWords splits at commas).
			for i+1 < len(w) && !strings.HasPrefix(w[i+1], "-") && w[i+1] != "!" {
				i++
				if p, ok := portRange(w[i], ":"); ok {
					r.Ports = append(r.Ports, p)
				}
			}
		}
	}
}

// portRange reads "22", "5405-5412" (sep "-") or "5405:5412" (sep ":"), and the service names
// nft may print for the ports that matter here.
func portRange(s, sep string) (PortRange, bool) {
	named := map[string]int{"ssh": 22}
	num := func(x string) (int, bool) {
		if n, ok := named[x]; ok {
			return n, true
		}
		n, err := strconv.Atoi(x)
		return n, err == nil && n >= 0 && n <= 65535
	}
	lo, hi, isRange := strings.Cut(s, sep)
	if !isRange {
		a, ok := num(lo)
		return PortRange{a, a}, ok
	}
	a, b, okA, okB := 0, 65535, true, true // iptables ":1024" and "1024:" are open-ended
	if lo != "" {
		a, okA = num(lo)
	}
	if hi != "" {
		b, okB = num(hi)
	}
	if !okA || !okB || b < a {
		return PortRange{}, false
	}
	return PortRange{a, b}, true
}
