package inventory

import (
	"fmt"
	"strings"
)

// LookupEnv finds an environment variable; os.LookupEnv fits. Tests pass a map's lookup so
// that the process environment does not leak into them.
type LookupEnv func(name string) (string, bool)

// expandVars replaces ${NAME} and ${NAME:-default} in s. "$$" stands for a literal "$"; any
// other "$" is kept as it is, so values such as passwords-with-dollars in other tools' files
// need no escaping unless they contain "${". Every problem is returned, not just the first.
func expandVars(s string, lookup LookupEnv) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var out strings.Builder
	var problems []string
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			out.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			out.WriteByte('$')
			i++
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				problems = append(problems, fmt.Sprintf("%q has a \"${\" without its closing \"}\"", s))
				out.WriteString(s[i:])
				return out.String(), problems
			}
			expr := s[i+2 : i+2+end]
			value, problem := expandOne(expr, lookup)
			if problem != "" {
				problems = append(problems, problem)
			}
			out.WriteString(value)
			i += 2 + end
		default:
			out.WriteByte(c)
		}
	}
	return out.String(), problems
}

func expandOne(expr string, lookup LookupEnv) (value, problem string) {
	name, def, hasDefault := strings.Cut(expr, ":-")
	if !isEnvName(name) {
		return "", fmt.Sprintf("${%s}: %q is not a variable name (letters, digits and _, not starting with a digit)", expr, name)
	}
	v, ok := lookup(name)
	if hasDefault && v == "" {
		return def, ""
	}
	if !ok {
		return "", fmt.Sprintf("environment variable %s is not set (write ${%s:-value} for a default)", name, name)
	}
	return v, ""
}
