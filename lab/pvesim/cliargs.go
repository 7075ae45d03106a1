package pvesim

import (
	"fmt"
	"sort"
	"strings"
)

// ParamError is a PVE::Exception with code 400, printed with the command's usage line.
type ParamError struct {
	Prefix  string            // printed before the exception (a Getopt::Long warning)
	Message string            // "Parameter verification failed." or "too many arguments"
	Errors  map[string]string // per-parameter messages
}

func (p *ParamError) Error() string { return p.Message }

// format follows PVE::Exception::stringify: "400 <msg>\n", then "<param>: <error>\n" for
// each error (a message that ends in a newline leaves a blank line), then the usage line.
func (p *ParamError) format(usage string) string {
	var b strings.Builder
	b.WriteString(p.Prefix)
	fmt.Fprintf(&b, "400 %s\n", p.Message)
	keys := make([]string, 0, len(p.Errors))
	for key := range p.Errors {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		fmt.Fprintf(&b, "%s: %s\n", key, p.Errors[key])
	}
	b.WriteString(usage + "\n")
	return b.String()
}

func paramErr(key, msg string) *ParamError {
	return &ParamError{Message: "Parameter verification failed.", Errors: map[string]string{key: msg}}
}

type optKind int

const (
	optString optKind = iota
	optBool
)

// cliArgs is a parsed command line in PVE's style: `--name value`, `-name value`,
// `--name=value`; a boolean may stand alone.
type cliArgs struct {
	positional []string
	opts       map[string]string
}

func parseCLI(args []string, spec map[string]optKind, wantPositional int) (*cliArgs, *ParamError) {
	parsed := &cliArgs{opts: map[string]string{}}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			parsed.positional = append(parsed.positional, arg)
			continue
		}
		name := strings.TrimLeft(arg, "-")
		value, hasValue := "", false
		if eq := strings.IndexByte(name, '='); eq >= 0 {
			name, value, hasValue = name[:eq], name[eq+1:], true
		}
		kind, known := spec[name]
		if !known {
			// Getopt::Long warns, then get_options raises.
			return nil, &ParamError{Prefix: "Unknown option: " + name + "\n", Message: "unable to parse option"}
		}
		if !hasValue {
			if kind == optBool {
				value = "1"
				if i+1 < len(args) && isBoolWord(args[i+1]) {
					value = args[i+1]
					i++
				}
			} else {
				if i+1 >= len(args) {
					return nil, paramErr(name, "property is missing and it is not optional")
				}
				value = args[i+1]
				i++
			}
		}
		if kind == optBool {
			normalized, ok := normalizeBool(value)
			if !ok {
				return nil, paramErr(name, "type check ('boolean') failed - got '"+value+"'")
			}
			value = normalized
		}
		parsed.opts[name] = value
	}
	if len(parsed.positional) > wantPositional {
		return nil, &ParamError{Message: "too many arguments"}
	}
	return parsed, nil
}

func isBoolWord(s string) bool {
	_, ok := normalizeBool(s)
	return ok
}

func normalizeBool(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "1", "yes", "true", "on":
		return "1", true
	case "0", "no", "false", "off":
		return "0", true
	}
	return "", false
}

// validNodeName is pve_verify_node_name.
func validNodeName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && !(c == '-' && i != 0 && i != len(name)-1) {
			return false
		}
	}
	return true
}

// linkOptions adds link0..link7 to an option spec.
func linkOptions(spec map[string]optKind) map[string]optKind {
	for n := 0; n <= 7; n++ {
		spec[fmt.Sprintf("link%d", n)] = optString
	}
	return spec
}

// parseLinks collects --linkN options.
func (a *cliArgs) parseLinks() ([]Link, *ParamError) {
	var links []Link
	for n := 0; n <= 7; n++ {
		key := fmt.Sprintf("link%d", n)
		spec, ok := a.opts[key]
		if !ok {
			continue
		}
		link, err := ParseLink(n, spec)
		if err != nil {
			return nil, paramErr(key, err.Error())
		}
		links = append(links, link)
	}
	return links, nil
}
