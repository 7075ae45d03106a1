package pvesim

import (
	"fmt"
	"os"
	"time"
)

// tracef writes a timestamped line to stderr when PVESIM_TRACE is set: for finding where
// a slow start-up spends its time.
func tracef(format string, args ...any) {
	if os.Getenv("PVESIM_TRACE") == "" {
		return
	}
	fmt.Fprintf(os.Stderr, "%s [pvesim %d] %s\n", time.Now().Format("15:04:05.000"), os.Getpid(), fmt.Sprintf(format, args...))
}
