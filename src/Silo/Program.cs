using VoiceActors.Gateway.Hosting;
using VoiceActors.Silo.Hosting;
using VoiceActors.Silo.Telemetry;

if (RecordingWorkerEntry.IsWorker(args)) return RecordingWorkerEntry.Run(); // this binary is also the silo's recording worker

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
return 0;
