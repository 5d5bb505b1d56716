package elbv2api

import (
	"reflect"
	"regexp"
)

// arnKind is one kind of ELBv2 ARN a request parameter carries: how ELBv2 names it in
// "'X' is not a valid <name> ARN" and the shape an ARN of that kind has
// (arn:<partition>:elasticloadbalancing:<region>:<account>:<resource>, the resource as
// Server.arn and createListener make it).
type arnKind struct {
	name    string
	pattern *regexp.Regexp
}

// elbARN is an ELBv2 ARN whose resource part matches resource.
func elbARN(resource string) *regexp.Regexp {
	return regexp.MustCompile(`^arn:aws(-[a-z]+)*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:` + resource + `$`)
}

// arnParams are the request parameters (struct fields of the input shapes, at any depth; a list
// names its members' kind) whose values must be ELBv2 ARNs of a kind. ELBv2 answers a value of
// another shape (a name, an ARN of another kind) with a ValidationError before it looks
// anything up.
var arnParams = func() map[string]arnKind {
	lb := arnKind{"load balancer", elbARN(`loadbalancer/app/[^/]+/[0-9a-f]+`)}
	l := arnKind{"listener", elbARN(`listener/app/[^/]+/[0-9a-f]+/[0-9a-f]+`)}
	tg := arnKind{"target group", elbARN(`targetgroup/[^/]+/[0-9a-f]+`)}
	ts := arnKind{"trust store", elbARN(`truststore/[^/]+/[0-9a-f]+`)}
	return map[string]arnKind{"LoadBalancerArn": lb, "LoadBalancerArns": lb, "ListenerArn": l, "ListenerArns": l,
		"TargetGroupArn": tg, "TargetGroupArns": tg, "TrustStoreArn": ts, "TrustStoreArns": ts}
}()

// checkARNs refuses the first parameter in v (a decoded input shape) that arnParams names and
// whose value is not an ARN of its kind, with ELBv2's "'X' is not a valid <kind> ARN". Empty
// values are left to the action, which knows whether the parameter is required.
func checkARNs(v reflect.Value, kind *arnKind) *apiError {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return checkARNs(v.Elem(), kind)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			var k *arnKind
			if ak, ok := arnParams[v.Type().Field(i).Name]; ok {
				k = &ak
			}
			if err := checkARNs(v.Field(i), k); err != nil {
				return err
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if err := checkARNs(v.Index(i), kind); err != nil {
				return err
			}
		}
	case reflect.String:
		if s := v.String(); kind != nil && s != "" && !kind.pattern.MatchString(s) {
			return validation("'%s' is not a valid %s ARN", s, kind.name)
		}
	}
	return nil
}
