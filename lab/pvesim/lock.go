package pvesim

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockLocal is PVE::Tools::lock_file with a 10 s timeout.
func lockLocal(path string) (func(), error) {
	os.MkdirAll(filepath.Dir(path), 0o755)
	file, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("can't open file '%s' - %w", path, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			return func() { file.Close() }, nil
		}
		if time.Now().After(deadline) {
			file.Close()
			return nil, fmt.Errorf("can't lock file '%s' - got timeout", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
