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
            .AddScheme<AuthenticationSchemeOptions, DashboardAuthenticationHandler>(DashboardAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(DashboardAuthenticationHandler.PolicyName, p => p
                .AddAuthenticationSchemes(DashboardAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser());
        return builder;
    }

    public static WebApplication MapSiloOperations(this WebApplication app)
    {
        app.MapVoiceActorsTelemetry();
        var dashboard = app.MapOrleansDashboard(DashboardPrefix);
        if (!app.Environment.IsDevelopment()) dashboard.RequireAuthorization(DashboardAuthenticationHandler.PolicyName);
        return app;
    }
}
