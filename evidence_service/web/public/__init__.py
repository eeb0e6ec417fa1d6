"""What anyone may reach without an account: the RFC 3161 TSA, CRLs and OCSP, the transparency
log and its proofs, the public verifier and the capture pages behind the certificate's QR code."""
