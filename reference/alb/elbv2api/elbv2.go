package elbv2api

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mtlsgate/mtlsgate/reference/alb"
)

type queryAction func(ctx context.Context, form url.Values, r *http.Request) (any, *apiError)

func (s *Server) queryActions() map[string]queryAction {
	return map[string]queryAction{
		"CreateLoadBalancer":                s.createLoadBalancer,
		"DescribeLoadBalancers":             s.describeLoadBalancers,
		"DeleteLoadBalancer":                s.deleteLoadBalancer,
		"DescribeLoadBalancerAttributes":    s.describeLoadBalancerAttributes,
		"ModifyLoadBalancerAttributes":      s.modifyLoadBalancerAttributes,
		"CreateTargetGroup":                 s.createTargetGroup,
		"ModifyTargetGroup":                 s.modifyTargetGroup,
		"DescribeTargetGroups":              s.describeTargetGroups,
		"DeleteTargetGroup":                 s.deleteTargetGroup,
		"RegisterTargets":                   s.registerTargets,
		"DeregisterTargets":                 s.deregisterTargets,
		"DescribeTargetHealth":              s.describeTargetHealth,
		"CreateListener":                    s.createListener,
		"ModifyListener":                    s.modifyListener,
		"DescribeListeners":                 s.describeListeners,
		"DeleteListener":                    s.deleteListener,
		"DescribeListenerAttributes":        s.describeListenerAttributes,
		"DescribeListenerCertificates":      s.describeListenerCertificates,
		"ModifyListenerAttributes":          s.modifyListenerAttributes,
		"CreateTrustStore":                  s.createTrustStore,
		"ModifyTrustStore":                  s.modifyTrustStore,
		"DescribeTrustStores":               s.describeTrustStores,
		"DeleteTrustStore":                  s.deleteTrustStore,
		"GetTrustStoreCaCertificatesBundle": s.getTrustStoreBundle,
		"AddTrustStoreRevocations":          s.addRevocations,
		"DescribeTrustStoreRevocations":     s.describeRevocations,
		"RemoveTrustStoreRevocations":       s.removeRevocations,
		"GetTrustStoreRevocationContent":    s.getRevocationContent,
		"DescribeTrustStoreAssociations":    s.describeTrustStoreAssociations,
		"DeleteSharedTrustStoreAssociation": s.deleteSharedTrustStoreAssociation,
		"DescribeSSLPolicies":               s.describeSSLPolicies,
		"AddTags":                           s.addTagsAction,
		"RemoveTags":                        s.removeTagsAction,
		"DescribeTags":                      s.describeTagsAction,
	}
}

// serveQuery answers one ELBv2 Query API call.
func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, rid string) {
	body, tooBig, err := readBody(r, MaxQueryBody)
	if err != nil {
		writeQueryError(w, rid, fault("MalformedQueryString", "read the request body: %v", err))
		return
	}
	if tooBig {
		writeQueryError(w, rid, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge",
			Message: fmt.Sprintf("The request body exceeds %d bytes", MaxQueryBody)})
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		// AWS's common errors give MalformedQueryString the status 404.
		writeQueryError(w, rid, &apiError{Status: http.StatusNotFound, Code: "MalformedQueryString",
			Message: fmt.Sprintf("The query string contains a syntax error: the body is not a valid form (application/x-www-form-urlencoded): %v", err)})
		return
	}
	for k, vs := range r.URL.Query() {
		form[k] = append(form[k], vs...)
	}
	action := form.Get("Action")
	if action == "" {
		writeQueryError(w, rid, fault("MissingAction", "The request must contain the parameter Action."))
		return
	}
	if v := form.Get("Version"); v != alb.APIVersion {
		writeQueryError(w, rid, fault("InvalidAction", "Version %q: this endpoint speaks the ELBv2 API version %s", v, alb.APIVersion))
		return
	}
	fn := s.queryActions()[action]
	if fn == nil {
		writeQueryError(w, rid, fault("InvalidAction", "The action %s is not valid for this web service.", action))
		return
	}
	out, aerr := fn(r.Context(), form, r)
	if aerr != nil {
		writeQueryError(w, rid, aerr)
		return
	}
	writeQueryResult(w, action, rid, out)
}

func (s *Server) arn(kind, name string) string {
	return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:%s/%s/%s", s.opts.Region, s.opts.AccountID, kind, name, randomHex(16))
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$`)

// checkName applies ELB's naming rule: up to 32 alphanumerics and hyphens, not starting or
// ending with a hyphen.
func checkName(field, name string) *apiError {
	if name == "" {
		return validation("%s is required", field)
	}
	if !nameRE.MatchString(name) {
		return validation("%s '%s' can have a maximum of 32 characters, can contain only alphanumeric characters and hyphens, and cannot begin or end with a hyphen", field, name)
	}
	return nil
}

// --- load balancers ---

func (s *Server) createLoadBalancer(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in createLoadBalancerIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if err := checkName("Name", in.Name); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.Name, "internal-") {
		return nil, validation("Load balancer name '%s' cannot begin with 'internal-'", in.Name)
	}
	if in.Type != "" && in.Type != "application" {
		return nil, validation("Type '%s': the emulator emulates Application Load Balancers only; use application", in.Type)
	}
	scheme := orDefault(in.Scheme, "internet-facing")
	if scheme != "internet-facing" && scheme != "internal" {
		return nil, validation("Scheme '%s' must be internet-facing or internal", in.Scheme)
	}
	ipType := orDefault(in.IpAddressType, "ipv4")
	var out *loadBalancer
	err := s.change(ctx, func(m *model) *apiError {
		for _, lb := range m.LoadBalancers {
			if lb.Name == in.Name {
				if lb.Scheme != scheme || lb.IPAddressType != ipType {
					return fault("DuplicateLoadBalancerName", "A load balancer with the same name '%s' exists, but with different settings", in.Name)
				}
				out = lb
				return nil
			}
		}
		m.Seq++
		arn := s.arn("loadbalancer/app", in.Name)
		id := arn[strings.LastIndex(arn, "/")+1:]
		out = &loadBalancer{Seq: m.Seq, Arn: arn, Name: in.Name, Scheme: scheme, IPAddressType: ipType,
			DNSName:        fmt.Sprintf("%s-%s.%s.elb.localhost", in.Name, id[:10], s.opts.Region),
			SecurityGroups: in.SecurityGroups, Subnets: in.Subnets, Created: time.Now()}
		m.LoadBalancers[arn] = out
		return addTags(m, arn, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return struct {
		LoadBalancers []xLoadBalancer `xml:"LoadBalancers>member"`
	}{[]xLoadBalancer{s.xLoadBalancer(out)}}, nil
}

func (s *Server) xLoadBalancer(lb *loadBalancer) xLoadBalancer {
	return xLoadBalancer{LoadBalancerArn: lb.Arn, DNSName: lb.DNSName, CanonicalHostedZoneId: "Z35SXDOTRQ7X7K", CreatedTime: timestamp(lb.Created),
		LoadBalancerName: lb.Name, Scheme: lb.Scheme, VpcId: "vpc-mtlsgate", State: xState{Code: "active"}, Type: "application",
		SecurityGroups: lb.SecurityGroups, IpAddressType: lb.IPAddressType}
}

// sorted returns a map's values in creation order.
func sorted[T any](m map[string]*T, seq func(*T) int64) []*T {
	out := make([]*T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return seq(out[i]) < seq(out[j]) })
	return out
}

func (s *Server) describeLoadBalancers(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		LoadBalancerArns []string
		Names            []string
		Marker           string
		PageSize         *int
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	m := s.snapshot()
	var out []xLoadBalancer
	for _, arn := range in.LoadBalancerArns {
		lb := m.LoadBalancers[arn]
		if lb == nil {
			return nil, errNotFound(loadBalancers)
		}
		out = append(out, s.xLoadBalancer(lb))
	}
	for _, name := range in.Names {
		var found *loadBalancer
		for _, lb := range m.LoadBalancers {
			if lb.Name == name {
				found = lb
			}
		}
		if found == nil {
			return nil, fault("LoadBalancerNotFound", "Load balancers '[%s]' not found", name)
		}
		out = append(out, s.xLoadBalancer(found))
	}
	if len(in.LoadBalancerArns) == 0 && len(in.Names) == 0 {
		for _, lb := range sorted(m.LoadBalancers, func(l *loadBalancer) int64 { return l.Seq }) {
			out = append(out, s.xLoadBalancer(lb))
		}
	}
	out, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		LoadBalancers []xLoadBalancer `xml:"LoadBalancers>member"`
		NextMarker    string          `xml:",omitempty"`
	}{out, next}, nil
}

func (s *Server) deleteLoadBalancer(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct{ LoadBalancerArn string }
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if in.LoadBalancerArn == "" {
		return nil, validation("LoadBalancerArn is required")
	}
	return nil, s.change(ctx, func(m *model) *apiError {
		if m.LoadBalancers[in.LoadBalancerArn] == nil {
			return nil // DeleteLoadBalancer is idempotent
		}
		delete(m.LoadBalancers, in.LoadBalancerArn)
		for arn, l := range m.Listeners {
			if l.LoadBalancerArn == in.LoadBalancerArn {
				delete(m.Listeners, arn)
			}
		}
		dropTags(m)
		return nil
	})
}

// loadBalancerAttributes are the attributes set on lb, after the defaults of those the emulator
// applies and that were not set.
func loadBalancerAttributes(lb *loadBalancer) []xAttribute {
	out := []xAttribute{}
	for _, d := range []xAttribute{{Key: alb.AttrIdleTimeout, Value: strconv.Itoa(int(alb.DefaultIdleTimeout.Seconds()))},
		{Key: alb.AttrClientKeepAlive, Value: strconv.Itoa(int(alb.DefaultClientKeepAlive.Seconds()))},
		{Key: AttrConnLogsEnabled, Value: "false"}, {Key: AttrConnLogsBucket}, {Key: AttrConnLogsPrefix}} {
		if !slices.ContainsFunc(lb.Attributes, func(a alb.Attribute) bool { return a.Key == d.Key }) {
			out = append(out, d)
		}
	}
	for _, a := range lb.Attributes {
		out = append(out, xAttribute{Key: a.Key, Value: a.Value})
	}
	return out
}

func (s *Server) describeLoadBalancerAttributes(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct{ LoadBalancerArn string }
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	lb := s.snapshot().LoadBalancers[in.LoadBalancerArn]
	if lb == nil {
		return nil, errNotFound(loadBalancers)
	}
	return attributesResult(loadBalancerAttributes(lb)), nil
}

// modifyLoadBalancerAttributes sets the attributes the emulator applies (the idle timeout, …) by
// ALB's ranges; its listeners take them for new connections.
func (s *Server) modifyLoadBalancerAttributes(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		LoadBalancerArn string
		Attributes      []attributeIn
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if len(in.Attributes) == 0 {
		return nil, validation("Attributes: give at least one attribute")
	}
	var out []xAttribute
	err := changeOne(ctx, s, loadBalancerKind, in.LoadBalancerArn, func(m *model, lb *loadBalancer) *apiError {
		for _, a := range in.Attributes {
			i := slices.IndexFunc(lb.Attributes, func(x alb.Attribute) bool { return x.Key == a.Key })
			if i >= 0 {
				lb.Attributes[i].Value = a.Value
			} else {
				lb.Attributes = append(lb.Attributes, alb.Attribute{Key: a.Key, Value: a.Value})
			}
		}
		if err := alb.CheckLoadBalancerAttributes(emulatorAttributes(lb.Attributes)); err != nil {
			return validation("%v", err)
		}
		if _, err := connLogAttrs(m, lb.Attributes); err != nil {
			return err
		}
		out = loadBalancerAttributes(lb)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return attributesResult(out), nil
}

// --- target groups ---

func (s *Server) createTargetGroup(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in createTargetGroupIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if err := checkName("Name", in.Name); err != nil {
		return nil, err
	}
	tg := &targetGroup{Name: in.Name, Protocol: in.Protocol, TargetType: orDefault(in.TargetType, "instance"), VpcID: in.VpcId,
		HealthCheckEnabled: true, HealthCheckPort: "traffic-port", HealthCheckPath: "/", HealthCheckIntervalSeconds: 30,
		HealthCheckTimeoutSeconds: 5, HealthyThresholdCount: 5, UnhealthyThresholdCount: 2, Matcher: "200"}
	switch tg.TargetType {
	case "instance", "ip":
	default:
		return nil, validation("TargetType '%s': the emulator forwards to instance or ip targets (an IP address or host name as the Id)", in.TargetType)
	}
	if in.Protocol != "HTTP" && in.Protocol != "HTTPS" {
		return nil, validation("Protocol '%s': an Application Load Balancer's target group uses HTTP or HTTPS", in.Protocol)
	}
	if in.Port == nil {
		return nil, validation("A port must be specified")
	}
	tg.Port = *in.Port
	if tg.Port < 1 || tg.Port > 65535 {
		return nil, validation("Port %d must be between 1 and 65535", tg.Port)
	}
	tg.HealthCheckProtocol = tg.Protocol
	if err := applyHealthCheck(tg, modifyTargetGroupIn{HealthCheckProtocol: in.HealthCheckProtocol, HealthCheckPort: in.HealthCheckPort,
		HealthCheckPath: in.HealthCheckPath, HealthCheckEnabled: in.HealthCheckEnabled, HealthCheckIntervalSeconds: in.HealthCheckIntervalSeconds,
		HealthCheckTimeoutSeconds: in.HealthCheckTimeoutSeconds, HealthyThresholdCount: in.HealthyThresholdCount,
		UnhealthyThresholdCount: in.UnhealthyThresholdCount, Matcher: in.Matcher}); err != nil {
		return nil, err
	}
	var out *targetGroup
	err := s.change(ctx, func(m *model) *apiError {
		for _, g := range m.TargetGroups {
			if g.Name == in.Name {
				cand := *tg
				cand.Seq, cand.Arn, cand.Targets = g.Seq, g.Arn, g.Targets
				if fmt.Sprint(cand) != fmt.Sprint(*g) {
					return fault("DuplicateTargetGroupName", "A target group with the same name '%s' exists, but with different settings", in.Name)
				}
				out = g
				return nil
			}
		}
		m.Seq++
		tg.Seq, tg.Arn = m.Seq, s.arn("targetgroup", in.Name)
		m.TargetGroups[tg.Arn] = tg
		out = tg
		return addTags(m, tg.Arn, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return struct {
		TargetGroups []xTargetGroup `xml:"TargetGroups>member"`
	}{[]xTargetGroup{xTG(s.snapshot(), out)}}, nil
}

// applyHealthCheck sets the health-check fields given, by ALB's ranges.
func applyHealthCheck(tg *targetGroup, in modifyTargetGroupIn) *apiError {
	if in.HealthCheckProtocol != "" {
		if in.HealthCheckProtocol != "HTTP" && in.HealthCheckProtocol != "HTTPS" {
			return validation("Health check protocol '%s' is not supported for target groups with the %s protocol; use HTTP or HTTPS", in.HealthCheckProtocol, tg.Protocol)
		}
		tg.HealthCheckProtocol = in.HealthCheckProtocol
	}
	if in.HealthCheckPort != "" {
		if in.HealthCheckPort != "traffic-port" {
			if n, err := strconv.Atoi(in.HealthCheckPort); err != nil || n < 1 || n > 65535 {
				return validation("Health check port '%s' must be traffic-port or a port from 1 to 65535", in.HealthCheckPort)
			}
			return validation("Health check port '%s': the emulator checks targets on their traffic port; use traffic-port", in.HealthCheckPort)
		}
		tg.HealthCheckPort = in.HealthCheckPort
	}
	if in.HealthCheckPath != "" {
		if !strings.HasPrefix(in.HealthCheckPath, "/") || len(in.HealthCheckPath) > 1024 {
			return validation("Health check path '%s' must begin with '/' and be at most 1024 characters", in.HealthCheckPath)
		}
		tg.HealthCheckPath = in.HealthCheckPath
	}
	if in.HealthCheckEnabled != nil {
		tg.HealthCheckEnabled = *in.HealthCheckEnabled
	}
	for _, f := range []struct {
		name   string
		v      *int
		lo, hi int
		dst    *int
	}{
		{"HealthCheckIntervalSeconds", in.HealthCheckIntervalSeconds, 5, 300, &tg.HealthCheckIntervalSeconds},
		{"HealthCheckTimeoutSeconds", in.HealthCheckTimeoutSeconds, 2, 120, &tg.HealthCheckTimeoutSeconds},
		{"HealthyThresholdCount", in.HealthyThresholdCount, 2, 10, &tg.HealthyThresholdCount},
		{"UnhealthyThresholdCount", in.UnhealthyThresholdCount, 2, 10, &tg.UnhealthyThresholdCount},
	} {
		if f.v == nil {
			continue
		}
		if *f.v < f.lo || *f.v > f.hi {
			return validation("%s %d must be between %d and %d", f.name, *f.v, f.lo, f.hi)
		}
		*f.dst = *f.v
	}
	if tg.HealthCheckTimeoutSeconds >= tg.HealthCheckIntervalSeconds {
		return validation("Health check interval must be greater than the timeout.")
	}
	if in.Matcher != nil {
		if in.Matcher.GrpcCode != "" {
			return validation("Matcher.GrpcCode: the target group's protocol version is HTTP1; give Matcher.HttpCode")
		}
		if _, err := alb.ParseHTTPCodes(in.Matcher.HttpCode); err != nil {
			return validation("%v", err)
		}
		tg.Matcher = in.Matcher.HttpCode
	}
	return nil
}

func xTG(m *model, tg *targetGroup) xTargetGroup {
	var lbs []string
	for _, l := range m.Listeners {
		if l.TargetGroupArn == tg.Arn && !slices.Contains(lbs, l.LoadBalancerArn) {
			lbs = append(lbs, l.LoadBalancerArn)
		}
	}
	sort.Strings(lbs)
	return xTargetGroup{TargetGroupArn: tg.Arn, TargetGroupName: tg.Name, Protocol: tg.Protocol, ProtocolVersion: "HTTP1", Port: tg.Port,
		VpcId: tg.VpcID, HealthCheckProtocol: tg.HealthCheckProtocol, HealthCheckPort: tg.HealthCheckPort, HealthCheckEnabled: tg.HealthCheckEnabled,
		HealthCheckIntervalSeconds: tg.HealthCheckIntervalSeconds, HealthCheckTimeoutSeconds: tg.HealthCheckTimeoutSeconds,
		HealthyThresholdCount: tg.HealthyThresholdCount, UnhealthyThresholdCount: tg.UnhealthyThresholdCount, HealthCheckPath: tg.HealthCheckPath,
		Matcher: xMatcher{HttpCode: tg.Matcher}, LoadBalancerArns: lbs, TargetType: tg.TargetType, IpAddressType: "ipv4"}
}

func (s *Server) modifyTargetGroup(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in modifyTargetGroupIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	var out *targetGroup
	var m2 *model
	err := changeOne(ctx, s, targetGroupKind, in.TargetGroupArn, func(m *model, tg *targetGroup) *apiError {
		if err := applyHealthCheck(tg, in); err != nil {
			return err
		}
		out, m2 = tg, m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return struct {
		TargetGroups []xTargetGroup `xml:"TargetGroups>member"`
	}{[]xTargetGroup{xTG(m2, out)}}, nil
}

func (s *Server) describeTargetGroups(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		LoadBalancerArn string
		TargetGroupArns []string
		Names           []string
		Marker          string
		PageSize        *int
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	m := s.snapshot()
	var out []xTargetGroup
	for _, arn := range in.TargetGroupArns {
		tg := m.TargetGroups[arn]
		if tg == nil {
			return nil, errNotFound(targetGroups)
		}
		out = append(out, xTG(m, tg))
	}
	for _, name := range in.Names {
		var found *targetGroup
		for _, tg := range m.TargetGroups {
			if tg.Name == name {
				found = tg
			}
		}
		if found == nil {
			return nil, errNotFound(targetGroups)
		}
		out = append(out, xTG(m, found))
	}
	if len(in.TargetGroupArns) == 0 && len(in.Names) == 0 {
		if in.LoadBalancerArn != "" && m.LoadBalancers[in.LoadBalancerArn] == nil {
			return nil, errNotFound(loadBalancers)
		}
		for _, tg := range sorted(m.TargetGroups, func(t *targetGroup) int64 { return t.Seq }) {
			x := xTG(m, tg)
			if in.LoadBalancerArn == "" || slices.Contains(x.LoadBalancerArns, in.LoadBalancerArn) {
				out = append(out, x)
			}
		}
	}
	out, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		TargetGroups []xTargetGroup `xml:"TargetGroups>member"`
		NextMarker   string         `xml:",omitempty"`
	}{out, next}, nil
}

func (s *Server) deleteTargetGroup(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct{ TargetGroupArn string }
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if in.TargetGroupArn == "" {
		return nil, validation("TargetGroupArn is required")
	}
	return nil, s.change(ctx, func(m *model) *apiError {
		if m.TargetGroups[in.TargetGroupArn] == nil {
			return nil // idempotent, as ELBv2's delete calls are
		}
		for _, l := range m.Listeners {
			if l.TargetGroupArn == in.TargetGroupArn {
				return fault("ResourceInUse", "Target group '%s' is currently in use by a listener or a rule", in.TargetGroupArn)
			}
		}
		delete(m.TargetGroups, in.TargetGroupArn)
		dropTags(m)
		return nil
	})
}

func (s *Server) registerTargets(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	return s.changeTargets(ctx, form, true)
}

func (s *Server) deregisterTargets(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	return s.changeTargets(ctx, form, false)
}

func (s *Server) changeTargets(ctx context.Context, form url.Values, register bool) (any, *apiError) {
	var in targetsIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if len(in.Targets) == 0 {
		return nil, validation("Targets: give at least one target")
	}
	return nil, changeOne(ctx, s, targetGroupKind, in.TargetGroupArn, func(m *model, tg *targetGroup) *apiError {
		for _, t := range in.Targets {
			if t.Id == "" {
				return validation("Targets: a target needs an Id")
			}
			port := t.Port
			if port == 0 {
				port = tg.Port
			}
			if port < 1 || port > 65535 {
				return validation("Port %d must be between 1 and 65535", port)
			}
			at := alb.Target{Id: t.Id, Port: port}
			i := slices.Index(tg.Targets, at)
			switch {
			case register && i < 0:
				tg.Targets = append(tg.Targets, at)
			case !register && i < 0:
				return fault("InvalidTarget", "The following targets are not registered in target group '%s': '%s:%d'", tg.Arn, t.Id, port)
			case !register:
				tg.Targets = slices.Delete(tg.Targets, i, i+1)
			}
		}
		return nil
	})
}

func (s *Server) describeTargetHealth(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in describeTargetHealthIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	m := s.snapshot()
	tg := m.TargetGroups[in.TargetGroupArn]
	if tg == nil {
		return nil, errNotFound(targetGroups)
	}
	var out []xTargetHealthDescription
	for _, h := range s.targetHealth(m, tg) {
		if len(in.Targets) > 0 && !slices.ContainsFunc(in.Targets, func(t targetIn) bool {
			return t.Id == h.Id && (t.Port == 0 || t.Port == h.Port)
		}) {
			continue
		}
		out = append(out, xTargetHealthDescription{Target: xTarget{Id: h.Id, Port: h.Port}, HealthCheckPort: strconv.Itoa(h.Port),
			TargetHealth: xTargetHealth{State: h.State, Reason: h.Reason, Description: h.Description}})
	}
	return struct {
		TargetHealthDescriptions []xTargetHealthDescription `xml:"TargetHealthDescriptions>member"`
	}{out}, nil
}

// --- listeners ---

// applyListener checks a CreateListener or ModifyListener input against the model and sets it on l.
func applyListener(m *model, l *listener, in listenerIn, create bool) *apiError {
	if in.Protocol != "" {
		if in.Protocol != "HTTPS" {
			return fault("UnsupportedProtocol", "Protocol '%s': the emulator serves HTTPS listeners only (it exists for mutual TLS)", in.Protocol)
		}
		l.Protocol = in.Protocol
	} else if create {
		return validation("A listener protocol must be specified")
	}
	if in.Port != nil {
		if *in.Port < 1 || *in.Port > 65535 {
			return validation("Port %d must be between 1 and 65535", *in.Port)
		}
		l.Port = *in.Port
	} else if create {
		return validation("A listener port must be specified")
	}
	for _, other := range m.Listeners {
		if other.Arn != l.Arn && other.Port == l.Port {
			if other.LoadBalancerArn == l.LoadBalancerArn {
				return fault("DuplicateListener", "A listener already exists on this port for this load balancer '%s'", l.LoadBalancerArn)
			}
			return fault("InvalidConfigurationRequest", "Port %d is already served by listener '%s': the emulator binds every listener on one address, so ports are unique across load balancers", l.Port, other.Arn)
		}
	}
	if in.SslPolicy != "" {
		if _, err := alb.LookupPolicy(in.SslPolicy); err != nil {
			return fault("SSLPolicyNotFound", "SSL policy '%s' not found", in.SslPolicy)
		}
		l.SslPolicy = in.SslPolicy
	} else if create {
		l.SslPolicy = alb.DefaultPolicy
	}
	if in.Certificates != nil {
		if len(in.Certificates) != 1 {
			return validation("Certificates: give exactly one certificate (the listener's default); %d given", len(in.Certificates))
		}
		arn := in.Certificates[0].CertificateArn
		if m.Certificates[arn] == nil {
			return fault("CertificateNotFound", "Certificate '%s' not found", arn)
		}
		l.Certificates = []string{arn}
	} else if create {
		return validation("A certificate must be specified for HTTPS listeners")
	}
	if in.DefaultActions != nil {
		if len(in.DefaultActions) != 1 {
			return validation("DefaultActions: give exactly one forward action")
		}
		a := in.DefaultActions[0]
		if a.Type != "forward" {
			return fault("InvalidLoadBalancerAction", "Action type '%s': the emulator supports the forward action only", a.Type)
		}
		arn := a.TargetGroupArn
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			if len(a.ForwardConfig.TargetGroups) != 1 || (arn != "" && arn != a.ForwardConfig.TargetGroups[0].TargetGroupArn) {
				return fault("InvalidLoadBalancerAction", "ForwardConfig: the emulator forwards to one target group")
			}
			arn = a.ForwardConfig.TargetGroups[0].TargetGroupArn
		}
		if arn == "" {
			return validation("A target group ARN must be specified for a forward action")
		}
		if m.TargetGroups[arn] == nil {
			return errNotFound(targetGroups)
		}
		l.TargetGroupArn = arn
	} else if create {
		return validation("DefaultActions: a listener needs a default action")
	}
	if in.AlpnPolicy != nil {
		return validation("AlpnPolicy is for TLS listeners of Network Load Balancers")
	}
	if ma := in.MutualAuthentication; ma != nil {
		next := mutualAuth{Mode: strings.ToLower(orDefault(ma.Mode, alb.ModeOff))}
		switch next.Mode {
		case alb.ModeOff, alb.ModePassthrough:
			if ma.TrustStoreArn != "" {
				return validation("A trust store can be specified only when the mutual authentication mode is verify")
			}
		case alb.ModeVerify:
			if ma.TrustStoreArn == "" {
				return validation("A trust store must be specified when the mutual authentication mode is verify")
			}
			if m.TrustStores[ma.TrustStoreArn] == nil {
				return fault("TrustStoreNotFound", "Trust store '%s' not found", ma.TrustStoreArn)
			}
			next.TrustStoreArn = ma.TrustStoreArn
			next.IgnoreClientCertificateExpiry = ma.IgnoreClientCertificateExpiry != nil && *ma.IgnoreClientCertificateExpiry
			switch strings.ToLower(ma.AdvertiseTrustStoreCaNames) {
			case "", "off":
				next.AdvertiseTrustStoreCaNames = "off"
			case "on":
				next.AdvertiseTrustStoreCaNames = "on"
			default:
				return validation("AdvertiseTrustStoreCaNames '%s' must be on or off", ma.AdvertiseTrustStoreCaNames)
			}
		default:
			return validation("Mutual authentication mode '%s' must be off, passthrough or verify", ma.Mode)
		}
		l.Mutual = next
	} else if create {
		l.Mutual = mutualAuth{Mode: alb.ModeOff}
	}
	return nil
}

func (s *Server) xListener(l *listener) xListener {
	x := xListener{ListenerArn: l.Arn, LoadBalancerArn: l.LoadBalancerArn, Port: l.Port, Protocol: l.Protocol, SslPolicy: l.SslPolicy,
		MutualAuthentication: xMutualAuth{Mode: l.Mutual.Mode}}
	for i, c := range l.Certificates {
		x.Certificates = append(x.Certificates, xCertificate{CertificateArn: c, IsDefault: i == 0})
	}
	a := xAction{Type: "forward", TargetGroupArn: l.TargetGroupArn, Order: 1}
	a.ForwardConfig.TargetGroups = append(a.ForwardConfig.TargetGroups, struct {
		TargetGroupArn string
		Weight         int
	}{l.TargetGroupArn, 1})
	x.DefaultActions = []xAction{a}
	if l.Mutual.Mode == alb.ModeVerify {
		ignore := l.Mutual.IgnoreClientCertificateExpiry
		x.MutualAuthentication = xMutualAuth{Mode: l.Mutual.Mode, TrustStoreArn: l.Mutual.TrustStoreArn, IgnoreClientCertificateExpiry: &ignore,
			TrustStoreAssociationStatus: "active", AdvertiseTrustStoreCaNames: l.Mutual.AdvertiseTrustStoreCaNames}
	}
	return x
}

func listenersResult(xs []xListener) any {
	return struct {
		Listeners []xListener `xml:"Listeners>member"`
	}{xs}
}

func (s *Server) createListener(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in listenerIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if in.ListenerArn != "" {
		return nil, validation("Unknown parameter \"ListenerArn\": CreateListener takes a LoadBalancerArn")
	}
	var out *listener
	err := changeOne(ctx, s, loadBalancerKind, in.LoadBalancerArn, func(m *model, lb *loadBalancer) *apiError {
		m.Seq++
		l := &listener{Seq: m.Seq, LoadBalancerArn: lb.Arn}
		l.Arn = fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:listener/app/%s/%s/%s", s.opts.Region, s.opts.AccountID, lb.Name,
			lb.Arn[strings.LastIndex(lb.Arn, "/")+1:], randomHex(16))
		if err := applyListener(m, l, in, true); err != nil {
			return err
		}
		m.Listeners[l.Arn] = l
		out = l
		return addTags(m, l.Arn, in.Tags)
	})
	if err != nil {
		return nil, err
	}
	return listenersResult([]xListener{s.xListener(out)}), nil
}

func (s *Server) modifyListener(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in listenerIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if in.LoadBalancerArn != "" || in.Tags != nil {
		return nil, validation("ModifyListener takes a ListenerArn, not a LoadBalancerArn or Tags")
	}
	var out *listener
	err := changeOne(ctx, s, listenerKind, in.ListenerArn, func(m *model, l *listener) *apiError {
		if err := applyListener(m, l, in, false); err != nil {
			return err
		}
		out = l
		return nil
	})
	if err != nil {
		return nil, err
	}
	return listenersResult([]xListener{s.xListener(out)}), nil
}

func (s *Server) describeListeners(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		LoadBalancerArn string
		ListenerArns    []string
		Marker          string
		PageSize        *int
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	m := s.snapshot()
	var out []xListener
	switch {
	case len(in.ListenerArns) > 0:
		for _, arn := range in.ListenerArns {
			l := m.Listeners[arn]
			if l == nil {
				return nil, errNotFound(listeners)
			}
			out = append(out, s.xListener(l))
		}
	case in.LoadBalancerArn != "":
		if m.LoadBalancers[in.LoadBalancerArn] == nil {
			return nil, errNotFound(loadBalancers)
		}
		for _, l := range sorted(m.Listeners, func(l *listener) int64 { return l.Seq }) {
			if l.LoadBalancerArn == in.LoadBalancerArn {
				out = append(out, s.xListener(l))
			}
		}
	default:
		return nil, validation("You must specify either listener ARNs or a load balancer ARN")
	}
	out, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		Listeners  []xListener `xml:"Listeners>member"`
		NextMarker string      `xml:",omitempty"`
	}{out, next}, nil
}

func (s *Server) deleteListener(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct{ ListenerArn string }
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	return nil, changeOne(ctx, s, listenerKind, in.ListenerArn, func(m *model, _ *listener) *apiError {
		delete(m.Listeners, in.ListenerArn)
		dropTags(m)
		return nil
	})
}

// describeListenerCertificates is DescribeListenerCertificates: the listener's certificates,
// the default one marked IsDefault.
func (s *Server) describeListenerCertificates(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		ListenerArn string
		Marker      string
		PageSize    *int
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	l := s.snapshot().Listeners[in.ListenerArn]
	if l == nil {
		return nil, errNotFound(listeners)
	}
	out, next, err := page(s.xListener(l).Certificates, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		Certificates []xCertificate `xml:"Certificates>member"`
		NextMarker   string         `xml:",omitempty"`
	}{out, next}, nil
}

// listenerAttributes are the listener's attributes with ALB's defaults filled in.
func listenerAttributes(l *listener) []xAttribute {
	set := map[string]string{}
	for _, a := range l.Attributes {
		set[a.Key] = a.Value
	}
	var out []xAttribute
	for _, h := range []string{alb.HeaderSerialNumber, alb.HeaderIssuer, alb.HeaderSubject, alb.HeaderValidity, alb.HeaderLeaf, alb.HeaderClientCert} {
		k := alb.HeaderAttribute(h)
		v, ok := set[k]
		if !ok {
			v = h
		}
		out = append(out, xAttribute{Key: k, Value: v})
	}
	return out
}

func attributesResult(xs []xAttribute) any {
	return struct {
		Attributes []xAttribute `xml:"Attributes>member"`
	}{xs}
}

func (s *Server) describeListenerAttributes(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct{ ListenerArn string }
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	l := s.snapshot().Listeners[in.ListenerArn]
	if l == nil {
		return nil, errNotFound(listeners)
	}
	return attributesResult(listenerAttributes(l)), nil
}

func (s *Server) modifyListenerAttributes(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in listenerAttributesIn
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if len(in.Attributes) == 0 {
		return nil, validation("Attributes: give at least one attribute")
	}
	var out []xAttribute
	err := changeOne(ctx, s, listenerKind, in.ListenerArn, func(m *model, l *listener) *apiError {
		defaults := listenerAttributes(&listener{})
		for _, a := range in.Attributes {
			known := slices.ContainsFunc(defaults, func(x xAttribute) bool { return x.Key == a.Key })
			if !known {
				return validation("Listener attribute key '%s' is not recognized", a.Key)
			}
			if !alb.ValidHeaderName(a.Value) {
				return validation("Listener attribute '%s' value '%s' is not a valid header name (1 to 40 token characters)", a.Key, a.Value)
			}
			i := slices.IndexFunc(l.Attributes, func(x alb.Attribute) bool { return x.Key == a.Key })
			if i >= 0 {
				l.Attributes[i].Value = a.Value
			} else {
				l.Attributes = append(l.Attributes, alb.Attribute{Key: a.Key, Value: a.Value})
			}
		}
		out = listenerAttributes(l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return attributesResult(out), nil
}

// --- security policies ---

func (s *Server) describeSSLPolicies(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		Names            []string
		Marker           string
		PageSize         *int
		LoadBalancerType string
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	var out []xSSLPolicy
	for _, p := range alb.Policies() {
		if len(in.Names) > 0 && !slices.Contains(in.Names, p.Name) {
			continue
		}
		out = append(out, xPolicy(p))
	}
	for _, n := range in.Names {
		if _, err := alb.LookupPolicy(n); err != nil {
			return nil, fault("SSLPolicyNotFound", "SSL policy '%s' not found", n)
		}
	}
	out, next, err := page(out, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return struct {
		SslPolicies []xSSLPolicy `xml:"SslPolicies>member"`
		NextMarker  string       `xml:",omitempty"`
	}{out, next}, nil
}

func xPolicy(p alb.Policy) xSSLPolicy {
	x := xSSLPolicy{Name: p.Name, SupportedLoadBalancerTypes: []string{"application", "network"}}
	for v := p.MinVersion; v <= p.MaxVersion && v >= tls.VersionTLS10; v++ {
		x.SslProtocols = append(x.SslProtocols, alb.ProtocolName(v))
	}
	for _, c := range append(slices.Clone(p.TLS13Ciphers), p.Listed...) {
		x.Ciphers = append(x.Ciphers, xCipher{Name: c, Priority: len(x.Ciphers) + 1})
	}
	return x
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
