package emulator

import (
	"errors"
	"os"
	"path/filepath"
)

// writeFileAtomic writes data to a temporary file in path's directory and
// renames it over path: a reader that polls for path (a script waiting for
// the env file, a client re-reading the token file) sees the old content or
// the new, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp, perm)); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
