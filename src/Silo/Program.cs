using VoiceActors.Gateway.Hosting;
using VoiceActors.Silo.Hosting;
using VoiceActors.Silo.Telemetry;

var builder = WebApplication.CreateBuilder(args);
builder.UseDefaultUrl(GatewayHosting.DefaultUrl);
builder.AddVoiceActorsSilo();
var serveGateway = builder.Configuration.GetValue("Silo:ServeGateway", !builder.Configuration.HasRedis());
if (serveGateway) builder.AddGatewayApi();
builder.AddSiloOperations();
builder.Services.AddHealthChecks();

var app = builder.Build();
if (serveGateway)
{
    app.UseGatewayPipeline();
    app.MapGatewayApi();
}
app.MapHealthChecks("/healthz");
app.MapSiloOperations();
app.Run();
