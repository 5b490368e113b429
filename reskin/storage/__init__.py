"""Making a local clip reachable by the service: data URIs now; S3 and file servers later."""
