package elbv2api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
)

// MaxTags is ELBv2's limit of tags on one resource; MaxTagResources the most resources one
// DescribeTags call names.
const (
	MaxTags         = 50
	MaxTagResources = 20
)

// tag is one Key/Value tag on a resource.
type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// xTag is a tag as ELBv2 answers it; a tag given without a value has the empty one.
type xTag struct{ Key, Value string }

// addTags sets tags on the resource arn in m (a tag with a key it has replaces it), by ELBv2's
// rules: a key given twice in one call is DuplicateTagKeys, a key is 1 to 128 characters and a
// value at most 256, and a resource holds at most MaxTags.
func addTags(m *model, arn string, tags []tagIn) *apiError {
	if len(tags) == 0 {
		return nil
	}
	seen := map[string]bool{}
	cur := slices.Clone(m.Tags[arn])
	for _, t := range tags {
		if seen[t.Key] {
			return fault("DuplicateTagKeys", "A tag key was specified more than once: '%s'", t.Key)
		}
		seen[t.Key] = true
		if len(t.Key) < 1 || len(t.Key) > 128 || len(t.Value) > 256 {
			return validation("Tag key '%s' must be 1 to 128 characters and its value at most 256", t.Key)
		}
		if i := slices.IndexFunc(cur, func(x tag) bool { return x.Key == t.Key }); i >= 0 {
			cur[i].Value = t.Value
		} else {
			cur = append(cur, tag{Key: t.Key, Value: t.Value})
		}
	}
	if len(cur) > MaxTags {
		return fault("TooManyTags", "You've reached the limit on the number of tags for this resource (%d): '%s'", MaxTags, arn)
	}
	m.Tags[arn] = cur
	return nil
}

// tagged reports whether arn names a resource that takes tags, or answers the NotFound of the
// kind its shape says (a ValidationError when it is no ELBv2 ARN of a kind the endpoint has).
func tagged(m *model, arn string) *apiError {
	switch {
	case m.LoadBalancers[arn] != nil, m.TargetGroups[arn] != nil, m.Listeners[arn] != nil, m.TrustStores[arn] != nil:
		return nil
	case arnParams["LoadBalancerArn"].pattern.MatchString(arn):
		return errNotFound(loadBalancers)
	case arnParams["TargetGroupArn"].pattern.MatchString(arn):
		return errNotFound(targetGroups)
	case arnParams["ListenerArn"].pattern.MatchString(arn):
		return errNotFound(listeners)
	case arnParams["TrustStoreArn"].pattern.MatchString(arn):
		return errNotFound(trustStores)
	}
	return validation("'%s' is not a valid resource ARN: give the ARN of a load balancer, target group, listener or trust store", arn)
}

// dropTags forgets the tags of resources that no longer exist, after a delete.
func dropTags(m *model) {
	for arn := range m.Tags {
		if tagged(m, arn) != nil {
			delete(m.Tags, arn)
		}
	}
}

func (s *Server) addTagsAction(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		ResourceArns []string
		Tags         []tagIn
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if len(in.ResourceArns) == 0 || len(in.Tags) == 0 {
		return nil, validation("AddTags takes ResourceArns and Tags, at least one of each")
	}
	return nil, s.change(ctx, func(m *model) *apiError {
		for _, arn := range in.ResourceArns {
			if err := tagged(m, arn); err != nil {
				return err
			}
			if err := addTags(m, arn, in.Tags); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Server) removeTagsAction(ctx context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct {
		ResourceArns []string
		TagKeys      []string
	}
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if len(in.ResourceArns) == 0 || len(in.TagKeys) == 0 {
		return nil, validation("RemoveTags takes ResourceArns and TagKeys, at least one of each")
	}
	return nil, s.change(ctx, func(m *model) *apiError {
		for _, arn := range in.ResourceArns {
			if err := tagged(m, arn); err != nil {
				return err
			}
			m.Tags[arn] = slices.DeleteFunc(slices.Clone(m.Tags[arn]), func(t tag) bool { return slices.Contains(in.TagKeys, t.Key) })
			if len(m.Tags[arn]) == 0 {
				delete(m.Tags, arn)
			}
		}
		return nil
	})
}

func (s *Server) describeTagsAction(_ context.Context, form url.Values, _ *http.Request) (any, *apiError) {
	var in struct{ ResourceArns []string }
	if err := decodeQuery(form, &in); err != nil {
		return nil, err
	}
	if len(in.ResourceArns) == 0 || len(in.ResourceArns) > MaxTagResources {
		return nil, validation("DescribeTags takes 1 to %d ResourceArns; %d given", MaxTagResources, len(in.ResourceArns))
	}
	type description struct {
		ResourceArn string
		Tags        []xTag `xml:"Tags>member"`
	}
	m := s.snapshot()
	var out []description
	for _, arn := range in.ResourceArns {
		if err := tagged(m, arn); err != nil {
			return nil, err
		}
		d := description{ResourceArn: arn, Tags: []xTag{}}
		for _, t := range m.Tags[arn] {
			d.Tags = append(d.Tags, xTag{Key: t.Key, Value: t.Value})
		}
		out = append(out, d)
	}
	return struct {
		TagDescriptions []description `xml:"TagDescriptions>member"`
	}{out}, nil
}
