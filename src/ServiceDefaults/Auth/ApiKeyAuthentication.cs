using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using VoiceActors.LiveKit;

namespace VoiceActors.Auth;

/// <summary>Bearer API keys from <c>Gateway:ApiKeys</c>; each key belongs to exactly one tenant.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string TenantClaim = "tenant";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.Length == 0) return Task.FromResult(AuthenticateResult.NoResult());
        if (BearerToken.From(header) is not { } key)
            return Task.FromResult(AuthenticateResult.Fail("Authorization must be 'Bearer <api key>'."));
        var tenant = keys.FindTenant(key);
        if (tenant is null) return Task.FromResult(AuthenticateResult.Fail("Unknown API key."));
        return Task.FromResult(TenantTicket(tenant, SchemeName));
    }

    /// <summary>The one shape of an authenticated caller, whichever scheme found its key: a principal carrying its tenant.</summary>
    public static AuthenticateResult TenantTicket(string tenant, string scheme) => AuthenticateResult.Success(
        new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim(TenantClaim, tenant)], scheme)), scheme));

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Unauthorized",
            detail: "Send 'Authorization: Bearer <api key>' with a key from Gateway:ApiKeys.").ExecuteAsync(Context);
    }
}

public static class TenantExtensions
{
    public static string Tenant(this ClaimsPrincipal user) =>
        user.FindFirstValue(ApiKeyAuthenticationHandler.TenantClaim)
        ?? throw new InvalidOperationException("Authenticated request without a tenant claim.");
}

/// <summary>
/// Keys are compared by their SHA-256 so the raw key is never held in a dictionary or logged.
/// An entry is either a plain string (tenant <c>default</c>) or <c>{ "Key": "...", "Tenant": "..." }</c>.
/// </summary>
public sealed class ApiKeyStore
{
    /// <summary>Documented in the README; accepted only in the Development environment and only when no keys are configured.</summary>
    public const string DevelopmentKey = "va-local-dev-key";
    public const string DevelopmentTenant = "local";

    private readonly Dictionary<string, string> _tenantByKeyHash = new(StringComparer.Ordinal);

    public ApiKeyStore(IConfiguration configuration, IHostEnvironment environment)
    {
        foreach (var entry in configuration.GetSection("Gateway:ApiKeys").GetChildren())
        {
            var plain = !entry.GetChildren().Any(); // a bare string entry; objects carry Key and Tenant
            var key = plain ? entry.Value : entry["Key"];
            var tenant = plain ? "default" : entry["Tenant"];
            if (string.IsNullOrWhiteSpace(key) || string.IsNullOrWhiteSpace(tenant))
                throw new OptionsValidationException("Gateway:ApiKeys", typeof(ApiKeyStore),
                    [$"Gateway:ApiKeys:{entry.Key} needs a non-empty key and tenant."]);
            _tenantByKeyHash[Hash(key)] = tenant;
        }
        if (_tenantByKeyHash.Count == 0 && environment.IsDevelopment())
            _tenantByKeyHash[Hash(DevelopmentKey)] = DevelopmentTenant;

    }

    public int Count => _tenantByKeyHash.Count;

    /// <summary>A process that serves <c>/v1</c> with no key would refuse every caller: refuse to start instead.</summary>
    public void EnsureAny()
    {
        if (_tenantByKeyHash.Count == 0)
            throw new OptionsValidationException("Gateway:ApiKeys", typeof(ApiKeyStore),
                ["Gateway:ApiKeys is empty outside Development: no caller could use /v1. Configure at least one key."]);
    }

    public string? FindTenant(ReadOnlySpan<char> key) =>
        key.Length is 0 or > 512 ? null : _tenantByKeyHash.GetValueOrDefault(Hash(key));

    private static string Hash(ReadOnlySpan<char> key)
    {
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        var n = Encoding.UTF8.GetBytes(key, utf8);
        return Convert.ToHexString(SHA256.HashData(utf8[..n]));
    }
}
