package elbv2api

// The ELBv2 shapes the endpoint reads and writes, with the API's names (botocore's
// data/elbv2/2015-12-01/service-2.json). Inputs are decoded from the Query form; outputs are
// encoded as XML with lists as <member> elements.

type tagIn struct{ Key, Value string }

type createLoadBalancerIn struct {
	Name                  string
	Subnets               []string
	SubnetMappings        []struct{ SubnetId, AllocationId, PrivateIPv4Address, IPv6Address string }
	SecurityGroups        []string
	Scheme                string
	Tags                  []tagIn
	Type                  string
	IpAddressType         string
	CustomerOwnedIpv4Pool string
}

type matcherIn struct{ HttpCode, GrpcCode string }

type createTargetGroupIn struct {
	Name                       string
	Protocol                   string
	ProtocolVersion            string
	Port                       *int
	VpcId                      string
	HealthCheckProtocol        string
	HealthCheckPort            string
	HealthCheckEnabled         *bool
	HealthCheckPath            string
	HealthCheckIntervalSeconds *int
	HealthCheckTimeoutSeconds  *int
	HealthyThresholdCount      *int
	UnhealthyThresholdCount    *int
	Matcher                    *matcherIn
	TargetType                 string
	Tags                       []tagIn
	IpAddressType              string
}

type modifyTargetGroupIn struct {
	TargetGroupArn             string
	HealthCheckProtocol        string
	HealthCheckPort            string
	HealthCheckPath            string
	HealthCheckEnabled         *bool
	HealthCheckIntervalSeconds *int
	HealthCheckTimeoutSeconds  *int
	HealthyThresholdCount      *int
	UnhealthyThresholdCount    *int
	Matcher                    *matcherIn
}

type targetIn struct {
	Id               string
	Port             int
	AvailabilityZone string
}

type targetsIn struct {
	TargetGroupArn string
	Targets        []targetIn
}

type describeTargetHealthIn struct {
	TargetGroupArn string
	Targets        []targetIn
	Include        []string
}

type certificateIn struct {
	CertificateArn string
	IsDefault      *bool
}

type actionIn struct {
	Type           string
	TargetGroupArn string
	Order          *int
	ForwardConfig  *struct {
		TargetGroups []struct {
			TargetGroupArn string
			Weight         *int
		}
		TargetGroupStickinessConfig *struct {
			Enabled         *bool
			DurationSeconds *int
		}
	}
}

type mutualAuthIn struct {
	Mode                          string
	TrustStoreArn                 string
	IgnoreClientCertificateExpiry *bool
	TrustStoreAssociationStatus   string
	AdvertiseTrustStoreCaNames    string
}

type listenerIn struct {
	ListenerArn          string
	LoadBalancerArn      string
	Protocol             string
	Port                 *int
	SslPolicy            string
	Certificates         []certificateIn
	DefaultActions       []actionIn
	AlpnPolicy           []string
	Tags                 []tagIn
	MutualAuthentication *mutualAuthIn
}

type attributeIn struct{ Key, Value string }

type listenerAttributesIn struct {
	ListenerArn string
	Attributes  []attributeIn
}

type trustStoreIn struct {
	Name                                string
	TrustStoreArn                       string
	CaCertificatesBundleS3Bucket        string
	CaCertificatesBundleS3Key           string
	CaCertificatesBundleS3ObjectVersion string
	Tags                                []tagIn
}

type revocationContentIn struct {
	S3Bucket, S3Key, S3ObjectVersion, RevocationType string
}

type revocationsIn struct {
	TrustStoreArn      string
	RevocationContents []revocationContentIn
	RevocationIds      []int64
	RevocationId       *int64
	Marker             string
	PageSize           *int
}

type describeIn struct {
	LoadBalancerArns []string
	Names            []string
	LoadBalancerArn  string
	TargetGroupArns  []string
	ListenerArns     []string
	TrustStoreArns   []string
	Marker           string
	PageSize         *int
	LoadBalancerType string
}

// Outputs.

type xState struct {
	Code string
}

type xLoadBalancer struct {
	LoadBalancerArn       string
	DNSName               string
	CanonicalHostedZoneId string
	CreatedTime           string
	LoadBalancerName      string
	Scheme                string
	VpcId                 string
	State                 xState
	Type                  string
	SecurityGroups        []string `xml:"SecurityGroups>member"`
	IpAddressType         string
}

type xMatcher struct{ HttpCode string }

type xTargetGroup struct {
	TargetGroupArn             string
	TargetGroupName            string
	Protocol                   string
	ProtocolVersion            string
	Port                       int
	VpcId                      string `xml:",omitempty"`
	HealthCheckProtocol        string
	HealthCheckPort            string
	HealthCheckEnabled         bool
	HealthCheckIntervalSeconds int
	HealthCheckTimeoutSeconds  int
	HealthyThresholdCount      int
	UnhealthyThresholdCount    int
	HealthCheckPath            string
	Matcher                    xMatcher
	LoadBalancerArns           []string `xml:"LoadBalancerArns>member"`
	TargetType                 string
	IpAddressType              string
}

type xCertificate struct {
	CertificateArn string
	IsDefault      bool
}

type xAction struct {
	Type           string
	TargetGroupArn string
	Order          int
	ForwardConfig  struct {
		TargetGroups []struct {
			TargetGroupArn string
			Weight         int
		} `xml:"TargetGroups>member"`
		TargetGroupStickinessConfig struct{ Enabled bool }
	}
}

type xMutualAuth struct {
	Mode                          string
	TrustStoreArn                 string `xml:",omitempty"`
	IgnoreClientCertificateExpiry *bool  `xml:",omitempty"`
	TrustStoreAssociationStatus   string `xml:",omitempty"`
	AdvertiseTrustStoreCaNames    string `xml:",omitempty"`
}

type xListener struct {
	ListenerArn          string
	LoadBalancerArn      string
	Port                 int
	Protocol             string
	Certificates         []xCertificate `xml:"Certificates>member"`
	SslPolicy            string
	DefaultActions       []xAction `xml:"DefaultActions>member"`
	MutualAuthentication xMutualAuth
}

type xAttribute struct{ Key, Value string }

type xTrustStore struct {
	Name                   string
	TrustStoreArn          string
	Status                 string
	NumberOfCaCertificates int
	TotalRevokedEntries    int64
}

type xRevocation struct {
	TrustStoreArn          string
	RevocationId           int64
	RevocationType         string
	NumberOfRevokedEntries int64
}

type xTarget struct {
	Id   string
	Port int
}

type xTargetHealth struct {
	State       string
	Reason      string `xml:",omitempty"`
	Description string `xml:",omitempty"`
}

type xTargetHealthDescription struct {
	Target          xTarget
	HealthCheckPort string
	TargetHealth    xTargetHealth
}

type xCipher struct {
	Name     string
	Priority int
}

type xSSLPolicy struct {
	SslProtocols               []string  `xml:"SslProtocols>member"`
	Ciphers                    []xCipher `xml:"Ciphers>member"`
	Name                       string
	SupportedLoadBalancerTypes []string `xml:"SupportedLoadBalancerTypes>member"`
}
