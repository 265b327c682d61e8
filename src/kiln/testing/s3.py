"""S3 (moto server) fixtures (filled in by the artifact store work)."""
