using VoiceActors.Gateway.Telemetry;
using VoiceActors.Gateway.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.UseDefaultUrl("http://127.0.0.1:5081"); // 5080 belongs to the embedded silo, so both can run on one machine
builder.AddGatewayClient();
builder.AddGatewayApi();
builder.AddGatewayTelemetry();
builder.Services.AddHealthChecks();

var app = builder.Build();
app.UseGatewayPipeline();
app.MapHealthChecks("/healthz");
app.MapGatewayApi();
app.MapGatewayTelemetry();
app.Run();
