using VoiceActors.Gateway.Hosting;
using VoiceActors.Silo.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseDefaultUrl(GatewayHosting.DefaultUrl);
builder.AddVoiceActorsSilo();
var serveGateway = builder.Configuration.GetValue("Silo:ServeGateway", !builder.Configuration.HasRedis());
if (serveGateway) builder.AddGatewayApi();
builder.Services.AddHealthChecks();

var app = builder.Build();
if (serveGateway)
{
    app.UseGatewayPipeline();
    app.MapGatewayApi();
}
app.MapHealthChecks("/healthz");
app.Run();
