"""Everything the helper knows about AWS ECR, in one package.

- `hosts`: which docker keys are ECR registries, and where their API is;
- `identity`: what kind of AWS credential a secret triple holds;
- `token`: a registry token and the one rule for whether it is still good;
- `cache`: tokens shared by every docker process, one file each, under a lock;
- `exchange`: GetAuthorizationToken through botocore, imported only here;
- `login`: what an ECR secret answers, from the cache or a fresh exchange;
- `messages`: every sentence the user reads about ECR.

Kept empty: the hot path imports `hosts` and `identity` only, and nothing here may cost it.
"""
