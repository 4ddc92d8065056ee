using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using VoiceActors.LiveKit;

namespace VoiceActors.Auth;

/// <summary>How one API-key scheme takes its key and challenges; <see cref="ApiKeyAuthenticationHandler"/> is the one handler of them all.</summary>
public sealed class ApiKeyAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>
    /// Null (the API): the key comes only as <c>Bearer &lt;key&gt;</c>, and the challenge is a 401 problem. Set (the dashboard):
    /// a browser cannot add a bearer header to a page's own requests, so the key may also come as the password of HTTP Basic
    /// (any user name), and the challenge asks the browser for Basic credentials in this realm, which it then repeats on every request.
    /// </summary>
    public string? BasicRealm { get; set; }
}

/// <summary>API keys from <c>Gateway:ApiKeys</c>; each key belongs to exactly one tenant. Serves <c>/v1</c> and the silo's dashboard.</summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<ApiKeyAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys) : AuthenticationHandler<ApiKeyAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string TenantClaim = "tenant";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.Length == 0) return Task.FromResult(AuthenticateResult.NoResult());
        var key = BearerToken.From(header) ?? (Options.BasicRealm is null ? null : BasicPassword(header));
        if (key is null)
            return Task.FromResult(AuthenticateResult.Fail(Options.BasicRealm is null
                ? "Authorization must be 'Bearer <api key>'."
                : "Authorization must be 'Bearer <api key>' or Basic with the API key as password."));
        var tenant = keys.FindTenant(key);
        if (tenant is null) return Task.FromResult(AuthenticateResult.Fail("Unknown API key.")); // the key itself is never logged
        var identity = new ClaimsIdentity([new Claim(TenantClaim, tenant)], Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        if (Options.BasicRealm is { } realm)
        {
            Response.Headers.WWWAuthenticate = $"Basic realm=\"{realm}\", charset=\"UTF-8\"";
            return;
        }
        Response.Headers.WWWAuthenticate = BearerToken.Scheme;
        await Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Unauthorized",
            detail: "Send 'Authorization: Bearer <api key>' with a key from Gateway:ApiKeys.").ExecuteAsync(Context);
    }

    /// <summary>The password of <c>Basic base64(user:password)</c>, trimmed; null for another scheme or a malformed value.</summary>
    private static string? BasicPassword(string authorization)
    {
        if (!AuthenticationHeaderValue.TryParse(authorization, out var header) || header.Parameter is null
            || !header.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)) return null;
        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
            var colon = decoded.IndexOf(':');
            return colon < 0 ? null : decoded[(colon + 1)..].Trim();
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

public static class ApiKeyAuthenticationRegistration
{
    /// <summary>Adds an API-key scheme named <paramref name="scheme"/>; see <see cref="ApiKeyAuthenticationOptions.BasicRealm"/>.</summary>
    public static AuthenticationBuilder AddApiKey(this AuthenticationBuilder builder, string scheme = ApiKeyAuthenticationHandler.SchemeName,
        string? basicRealm = null) =>
        builder.AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(scheme, o => o.BasicRealm = basicRealm);
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
