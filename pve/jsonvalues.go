package pve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// pvesh prints Perl values: booleans as 0/1, and nodelist entries as the strings the
// corosync.conf parser produced ("nodeid":"1"). These types accept every spelling seen or
// plausible, so that a release switching from "1" to 1 to true changes nothing for us.

// jsonInt accepts 5, "5", true/false, "" and null (the last two as 0).
type jsonInt int64

func (j *jsonInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*j = 0
		return nil
	case string(b) == "true":
		*j = 1
		return nil
	case string(b) == "false":
		*j = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*j = 0
			return nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", clip(s, 40))
		}
		*j = jsonInt(n)
		return nil
	}
	var f json.Number
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("want an integer, got %s", clip(string(b), 40))
	}
	n, err := f.Int64()
	if err != nil {
		fl, ferr := f.Float64()
		if ferr != nil || fl != float64(int64(fl)) {
			return fmt.Errorf("want an integer, got %s", clip(string(b), 40))
		}
		n = int64(fl)
	}
	*j = jsonInt(n)
	return nil
}

// jsonBool accepts 0/1, "0"/"1", true/false, "yes"/"no", "on"/"off" and null (false).
type jsonBool bool

func (j *jsonBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		*j = true
	case "0", "false", "no", "off", "", "null":
		*j = false
	default:
		return fmt.Errorf("want a boolean, got %s", clip(string(b), 40))
	}
	return nil
}

// jsonString accepts strings, numbers and null, so that an address or id printed as a number
// still reads as its text.
type jsonString string

func (j *jsonString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*j = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*j = jsonString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string, got %s", clip(string(b), 40))
	}
	*j = jsonString(n.String())
	return nil
}

// jsonStart returns out from the first line that opens a JSON array or object, skipping
// anything a noisy login shell or a warning printed before pvesh's JSON.
func jsonStart(out string) (string, bool) {
	rest := out
	for rest != "" {
		line, tail, _ := strings.Cut(rest, "\n")
		if t := strings.TrimLeft(line, " \t"); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			return strings.TrimLeft(rest, " \t"), true
		}
		rest = tail
	}
	return "", false
}
