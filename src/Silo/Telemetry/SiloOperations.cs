using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OpenTelemetry.Metrics;
using Orleans.Dashboard;
using VoiceActors.Auth;
using VoiceActors.Telemetry;

namespace VoiceActors.Silo.Telemetry;

/// <summary>
/// What an operator sees of a silo: <c>/metrics</c> (the contract gauges from <see cref="SessionLoadMetrics"/>, Orleans'
/// meters), traces propagated through grain calls, structured logs, and the Orleans dashboard under <c>/dashboard</c>,
/// behind the API keys of <c>Gateway:ApiKeys</c> outside Development.
/// </summary>
public static class SiloOperations
{
    public const string DashboardPrefix = "/dashboard";
    private const string DashboardScheme = "DashboardApiKey"; // the dashboard's own scheme: Basic allowed, a Basic challenge
    private const string DashboardPolicy = "OrleansDashboard";

    public static WebApplicationBuilder AddSiloOperations(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SessionLoadMetrics>();
        builder.AddVoiceActorsTelemetry("voiceactors-silo",
            metrics => metrics.AddInstrumentation(sp => sp.GetRequiredService<SessionLoadMetrics>()));
        builder.Services.AddHostedService<KnownSeries>(); // after telemetry: its listener must be running to see the zeros
        builder.UseOrleans(silo =>
        {
            silo.AddActivityPropagation();
            silo.AddDashboard();
        });
        builder.Services.TryAddSingleton<ApiKeyStore>(); // a silo that does not serve /v1 still guards its dashboard with the same keys
        builder.Services.AddAuthentication()
            .AddApiKey(DashboardScheme, basicRealm: "Orleans dashboard (password: an API key from Gateway:ApiKeys)");
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(DashboardPolicy, p => p
                .AddAuthenticationSchemes(DashboardScheme)
                .RequireAuthenticatedUser());
        return builder;
    }

    public static WebApplication MapSiloOperations(this WebApplication app)
    {
        app.MapVoiceActorsTelemetry();
        var dashboard = app.MapOrleansDashboard(DashboardPrefix);
        if (!app.Environment.IsDevelopment()) dashboard.RequireAuthorization(DashboardPolicy);
        return app;
    }
}
