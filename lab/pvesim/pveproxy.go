package pvesim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The pveproxy stand-in: HTTPS on <node ip>:8006 with the node's certificate, serving the
// few API calls a join makes. Login is checked against host.json's password hash.

func (e *Env) startPveproxy(ctx context.Context) error {
	if e.Sandboxed() {
		return e.writeActiveMarker(pveproxyPIDPath)
	}
	return e.spawnDaemon(ctx, "pveproxy", pveproxyPIDPath, "--pvesim-serve")
}

// runPveproxy is the `pveproxy` command: `start`, `stop`, `restart`, or the server itself.
func (e *Env) runPveproxy(ctx context.Context, args []string) int {
	verb := "start"
	if len(args) > 0 {
		verb = args[0]
	}
	switch verb {
	case "--pvesim-serve":
		return e.servePveproxy()
	case "start":
		if _, alive := readPID(e.Path(pveproxyPIDPath)); alive {
			return 0
		}
		if err := e.startPveproxy(ctx); err != nil {
			e.errf("%v\n", err)
			return 255
		}
	case "stop":
		e.stopPID(ctx, pveproxyPIDPath)
	case "restart":
		e.stopPID(ctx, pveproxyPIDPath)
		if err := e.startPveproxy(ctx); err != nil {
			e.errf("%v\n", err)
			return 255
		}
	default:
		e.errf("ERROR: unknown command '%s'\n", verb)
		return 255
	}
	return 0
}

type apiServer struct {
	env     *Env
	mu      sync.Mutex
	tickets map[string]bool
}

func (e *Env) servePveproxy() int {
	ctx, cancel := signalContext()
	defer cancel()
	ip, err := e.NodeIP()
	if err != nil {
		e.errf("%v\n", err)
		return 1
	}
	node, _ := e.NodeName()
	certPath, keyPath := servedCertFiles(filepath.Join(e.pveTree(), "nodes", node))
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		e.errf("load certificate: %v\n", err)
		return 1
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(ip, e.apiPort()))
	if err != nil {
		e.errf("listen: %v\n", err)
		return 1
	}
	api := &apiServer{env: e, tickets: map[string]bool{}}
	server := &http.Server{
		Handler:           api,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	if err := e.writeOwnPID(pveproxyPIDPath); err != nil {
		e.errf("%v\n", err)
		return 1
	}
	go func() {
		<-ctx.Done()
		server.Close()
	}()
	if err := server.ServeTLS(listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		e.errf("serve: %v\n", err)
		return 1
	}
	return 0
}

func writeAPI(w http.ResponseWriter, code int, data any, apiErr *APIError) {
	body := map[string]any{"data": data}
	if apiErr != nil {
		body["message"] = apiErr.Message
		if len(apiErr.Errors) > 0 {
			body["errors"] = apiErr.Errors
		}
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api2/json")
	if path == "/access/ticket" && r.Method == http.MethodPost {
		s.login(w, r)
		return
	}
	if !s.authenticated(r) {
		writeAPI(w, 401, nil, &APIError{Code: 401, Message: "No ticket\n"})
		return
	}
	switch {
	case path == "/cluster/config/apiversion" && r.Method == http.MethodGet:
		writeAPI(w, 200, joinAPIVersion, nil)
	case path == "/version" && r.Method == http.MethodGet:
		host, _ := s.env.Host()
		writeAPI(w, 200, versionInfo(host), nil)
	case strings.HasPrefix(path, "/cluster/config/nodes/") && r.Method == http.MethodPost:
		s.addNode(w, r, strings.TrimPrefix(path, "/cluster/config/nodes/"))
	default:
		writeAPI(w, 501, nil, &APIError{Code: 501, Message: fmt.Sprintf("Method '%s %s' not implemented\n", r.Method, path)})
	}
}

func (s *apiServer) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeAPI(w, 400, nil, &APIError{Code: 400, Message: "Parameter verification failed.\n"})
		return
	}
	host, err := s.env.Host()
	sum := sha256.Sum256([]byte(r.PostForm.Get("password")))
	ok := err == nil && r.PostForm.Get("username") == "root@pam" &&
		subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(host.RootPasswordSHA256))) == 1
	if !ok {
		// PVE delays failed logins too.
		time.Sleep(300 * time.Millisecond)
		writeAPI(w, 401, nil, &APIError{Code: 401, Message: "authentication failure\n"})
		return
	}
	raw := make([]byte, 24)
	rand.Read(raw)
	ticket := fmt.Sprintf("PVE:root@pam:%08X::%s", time.Now().Unix(), hex.EncodeToString(raw))
	s.mu.Lock()
	s.tickets[ticket] = true
	s.mu.Unlock()
	writeAPI(w, 200, map[string]any{"ticket": ticket, "CSRFPreventionToken": hex.EncodeToString(raw[:8]), "username": "root@pam", "cap": map[string]any{}}, nil)
}

func (s *apiServer) authenticated(r *http.Request) bool {
	cookie, err := r.Cookie("PVEAuthCookie")
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tickets[cookie.Value]
}

func (s *apiServer) addNode(w http.ResponseWriter, r *http.Request, node string) {
	if err := r.ParseForm(); err != nil {
		writeAPI(w, 400, nil, &APIError{Code: 400, Message: "Parameter verification failed.\n"})
		return
	}
	form := r.PostForm
	req := AddNodeRequest{Node: node, Force: form.Get("force") == "1", NewNodeIP: form.Get("new_node_ip")}
	req.NodeID, _ = strconv.Atoi(form.Get("nodeid"))
	req.APIVersion, _ = strconv.Atoi(form.Get("apiversion"))
	if v := form.Get("votes"); v != "" {
		votes, _ := strconv.Atoi(v)
		req.Votes = &votes
	}
	for n := 0; n <= 7; n++ {
		if spec := form.Get(fmt.Sprintf("link%d", n)); spec != "" {
			link, err := ParseLink(n, spec)
			if err != nil {
				writeAPI(w, 400, nil, &APIError{Code: 400, Message: "Parameter verification failed.\n", Errors: map[string]string{fmt.Sprintf("link%d", n): err.Error()}})
				return
			}
			req.Links = append(req.Links, link)
		}
	}
	var taskLog strings.Builder
	res, err := s.env.AddNode(r.Context(), req, &taskLog)
	if err != nil {
		var apiErr *APIError
		if !errors.As(err, &apiErr) {
			apiErr = &APIError{Code: 500, Message: err.Error() + "\n"}
		}
		writeAPI(w, apiErr.Code, nil, apiErr)
		return
	}
	writeAPI(w, 200, res, nil)
}

// versionInfo is GET /version.
func versionInfo(host HostConfig) map[string]any {
	release := host.Version
	if parts := strings.SplitN(host.Version, ".", 3); len(parts) >= 2 {
		release = parts[0] + "." + strings.SplitN(parts[1], "-", 2)[0]
	}
	return map[string]any{"release": release, "repoid": host.RepoID, "version": host.Version}
}
