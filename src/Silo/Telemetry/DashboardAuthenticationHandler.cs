using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using VoiceActors.Auth;

namespace VoiceActors.Silo.Telemetry;

/// <summary>
/// The dashboard's guard: the same API keys as <c>/v1</c> (<see cref="ApiKeyStore"/>), sent as <c>Bearer &lt;key&gt;</c>
/// or, because a browser cannot add a bearer header to the dashboard's own requests, as the password of HTTP Basic
/// (any user name). The challenge asks the browser for Basic credentials, which it then repeats on every request.
/// </summary>
public sealed class DashboardAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "DashboardApiKey";
    public const string PolicyName = "OrleansDashboard";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization.ToString(), out var header) || header.Parameter is null)
            return Task.FromResult(AuthenticateResult.NoResult());
        var key = header.Scheme.ToLowerInvariant() switch
        {
            "bearer" => header.Parameter,
            "basic" => PasswordOf(header.Parameter),
            _ => null,
        };
        var tenant = key is null ? null : keys.FindTenant(key.AsSpan().Trim());
        if (tenant is null) return Task.FromResult(AuthenticateResult.Fail("Unknown API key.")); // the key itself is never logged
        return Task.FromResult(ApiKeyAuthenticationHandler.TenantTicket(tenant, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Basic realm=\"Orleans dashboard (password: an API key from Gateway:ApiKeys)\", charset=\"UTF-8\"";
        return Task.CompletedTask;
    }

    private static string? PasswordOf(string basic)
    {
        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(basic));
            var colon = decoded.IndexOf(':');
            return colon < 0 ? null : decoded[(colon + 1)..];
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
