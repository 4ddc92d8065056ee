using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using VoiceActors.LiveKit;
using VoiceActors.Sessions;

namespace VoiceActors.Benchmarks;

/// <summary>
/// Token minting (every interview create hands the candidate a LiveKit token) and webhook verification: the real receiver
/// checks the content type, verifies the signed Authorization token, compares its sha256 claim with the body and parses the
/// event. The event is one the receiver does not route, so no grain call is timed.
/// </summary>
[BenchmarkCategory("livekit")]
public class LiveKitBenchmarks
{
    private readonly LiveKitTokens _tokens = new(LiveKitOptions.DevelopmentApiKey, LiveKitOptions.DevelopmentApiSecret, TimeProvider.System);
    private byte[] _body = null!;
    private string _authorization = null!;
    private LiveKitDirectory _directory = null!;
    private LiveKitWebhookReceiver _receiver = null!;

    [GlobalSetup]
    public void Setup()
    {
        _body = Encoding.UTF8.GetBytes("""{"event":"track_unpublished","room":{"name":"interview-0123456789abcdef0123456789abcdef"},"participant":{"identity":"candidate-1"},"id":"EV_1","createdAt":"1764061200"}""");
        _authorization = "Bearer " + _tokens.ForWebhook(_body);
        _directory = new LiveKitDirectory(new ConfigurationBuilder().Build(), TimeProvider.System, NullLoggerFactory.Instance);
        _ = _directory.Default; // registers the default (development) key the webhook is signed with
        _receiver = new LiveKitWebhookReceiver(_directory, new VoiceActors.Gateway.LiveKit.SessionWebhookRouter(grains: null!, NullLogger<VoiceActors.Gateway.LiveKit.SessionWebhookRouter>.Instance), NullLogger<LiveKitWebhookReceiver>.Instance); // the event is not routed to a grain
    }

    [Benchmark(Description = "Mint a candidate token")]
    public string MintCandidateToken() =>
        _tokens.ForParticipant("interview-0123456789abcdef0123456789abcdef", "candidate-1", ParticipantRole.Candidate, TimeSpan.FromHours(2));

    [Benchmark(Description = "Verify a webhook (receiver: token, body hash, parse)")]
    public async Task<WebhookOutcome> VerifyWebhook()
    {
        var result = await _receiver.ReceiveAsync(_body, LiveKitWebhookReceiver.ContentType, _authorization);
        return result.Outcome == WebhookOutcome.Ignored ? result.Outcome : throw new InvalidOperationException($"webhook refused: {result.Detail}");
    }

    [GlobalCleanup]
    public void Cleanup() => _directory.Dispose();
}
