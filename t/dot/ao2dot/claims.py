# DOT puts only "sub" (the user's primary key) in ID tokens and userinfo;
# its documentation's way to add claims is a validator subclass. Django has
# no notion of a verified address: the test users' addresses count as
# verified (mod_api_oauth2 requires email_verified by default).
from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    def get_additional_claims(self, request):
        return {
            "email": request.user.email,
            "email_verified": True,
            "preferred_username": request.user.username,
        }
