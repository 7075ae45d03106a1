// Package inventory reads cluster.yaml, the one description of the cluster quorate builds,
// and checks it offline so that every mistake is reported with its line before any host is
// contacted.
package inventory

import (
	"fmt"
	"os"
	"strconv"
)

// JoinMethod is how nodes join: through the API with the root password, or pvecm add
// --use_ssh.
type JoinMethod string

const (
	JoinAPI JoinMethod = "api"
	JoinSSH JoinMethod = "ssh"
)

// DefaultPasswordEnv is where the root password comes from when the file does not say.
const DefaultPasswordEnv = "PVE_ROOT_PASSWORD"

// Inventory is a parsed cluster file. Fields hold values after ${VAR} expansion and defaults.
type Inventory struct {
	File    string
	Cluster Cluster
	SSH     SSH
	Nodes   []Node
	QDevice *QDevice // nil when the file has no qdevice section

	lines    map[string]int // line of every value and section, by path
	problems Problems       // found while decoding; Validate adds the rest
	decoded  bool           // the document was a mapping, so checking its content makes sense
	// broken holds paths whose value was of the wrong shape, or whose key was misspelt, so
	// that Validate does not add a second, derived complaint ("missing") about them.
	broken map[string]bool
}

type Cluster struct {
	Name        string
	Join        JoinMethod // default api
	PasswordEnv string     // the name of a variable holding the root password, never the password
}

// SSH settings left empty fall through to ~/.ssh/config and then to ssh's own defaults, which
// is why Port and User have no default here.
type SSH struct {
	User         string
	Port         int
	IdentityFile string
	KnownHosts   string
	Jump         string // ProxyJump: user@host:port[,more]
}

type Node struct {
	Name    string   // the PVE node name, which is the host's hostname
	Address string   // where quorate connects by SSH: an IP, a name or an ssh config alias
	Links   []string // corosync link0, link1, ...; defaults to [Address]
	NodeID  int      // 0: let pvecm choose
	Votes   int      // 0: pvecm's default of 1
}

type QDevice struct {
	Address string
}

// Load reads and parses the file at path. Only a file that cannot be read is an error; what is
// wrong inside it is reported by Validate.
func Load(path string, lookup LookupEnv) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cluster file: %w", err)
	}
	return Parse(path, data, lookup), nil
}

// Parse decodes data, naming it file in problems. It never fails: a broken document yields an
// Inventory whose Validate reports why.
func Parse(file string, data []byte, lookup LookupEnv) *Inventory {
	inv := &Inventory{File: file, lines: map[string]int{}, broken: map[string]bool{}}
	d := &decoder{inv: inv, lookup: lookup}
	d.document(data)
	inv.applyDefaults()
	return inv
}

// Line is the line of the value at path (such as "nodes[1].address"), or of the nearest
// enclosing section when the value was left out; 1 when nothing encloses it. Later stages use
// it to point findings back into the file.
func (inv *Inventory) Line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := inv.lines[p]; ok {
			return l
		}
	}
	return 1
}

// Where is "file:line" for path.
func (inv *Inventory) Where(path string) string {
	return inv.File + ":" + strconv.Itoa(inv.Line(path))
}

func (inv *Inventory) applyDefaults() {
	if inv.Cluster.Join == "" {
		inv.Cluster.Join = JoinAPI
	}
	if inv.Cluster.PasswordEnv == "" {
		inv.Cluster.PasswordEnv = DefaultPasswordEnv
	}
	for i := range inv.Nodes {
		n := &inv.Nodes[i]
		if n.Links == nil && n.Address != "" && !inv.linksGiven(i) {
			n.Links = []string{n.Address}
			// A problem with the defaulted link is a problem with the address line.
			inv.lines[nodePath(i)+".links[0]"] = inv.Line(nodePath(i) + ".address")
		}
	}
}

// linksGiven tells whether node i wrote links itself, even as an empty list.
func (inv *Inventory) linksGiven(i int) bool {
	_, ok := inv.lines[nodePath(i)+".links"]
	return ok
}

func nodePath(i int) string { return "nodes[" + strconv.Itoa(i) + "]" }

// parentPath drops the last element: nodes[1].links[0] -> nodes[1].links -> nodes[1] -> nodes.
func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			return p[:i]
		}
	}
	return ""
}
