package playbooks

import (
	"context"
	"errors"
	"time"

	"github.com/quorate/quorate/bootstrap"
)

// QDeviceRequest is what qdevice setup or remove was asked.
type QDeviceRequest struct {
	ChangeRequest
	// Host is the qnetd host of a setup; "" takes cluster.yaml's qdevice.address.
	Host string
}

// ErrNoQDeviceHost is a setup without a host on the command line or in cluster.yaml.
var ErrNoQDeviceHost = errors.New("no qnetd host: name it (quorate qdevice setup HOST) or add qdevice: {address: HOST} to the cluster file")

// QDeviceSetup sets up a QDevice on an external host for an even node count (an odd one only
// with Opts.QDeviceForce): corosync-qnetd prepared there, corosync-qdevice on every node, TCP
// 5403 checked, root SSH from the member to the qnetd host for the setup alone, pvecm qdevice
// setup, and the QDevice's vote verified from every member.
func (s *Session) QDeviceSetup(ctx context.Context, req QDeviceRequest) (ChangeReport, error) {
	host := req.Host
	if host == "" && req.Inventory.QDevice != nil {
		host = req.Inventory.QDevice.Address
	}
	if host == "" {
		return ChangeReport{}, ErrNoQDeviceHost
	}
	return s.qdevice(ctx, req, "qdevice setup", func(r *changeRun) bootstrap.ChangePlan {
		return bootstrap.PlanQDeviceSetup(req.Inventory, r.view, r.observed, host, req.Opts)
	})
}

// QDeviceRemove removes the cluster's QDevice and verifies that every member is back to the
// nodes' votes.
func (s *Session) QDeviceRemove(ctx context.Context, req QDeviceRequest) (ChangeReport, error) {
	return s.qdevice(ctx, req, "qdevice remove", func(r *changeRun) bootstrap.ChangePlan {
		return bootstrap.PlanQDeviceRemove(req.Inventory, r.view, r.observed)
	})
}

func (s *Session) qdevice(ctx context.Context, req QDeviceRequest, command string, plan func(*changeRun) bootstrap.ChangePlan) (report ChangeReport, err error) {
	start := time.Now()
	defer func() { report.Took = time.Since(start) }()
	r := s.openChange(ctx, req.ChangeRequest)
	defer r.Close()
	if err := ctx.Err(); err != nil {
		return report, context.Cause(ctx)
	}
	release, err := r.lock(ctx, command)
	if err != nil {
		return report, err
	}
	defer release()
	return report, s.runChange(ctx, req.ChangeRequest, r, plan(r), &report)
}
