using VoiceActors.Media.Bridge;

namespace VoiceActors.Tests.Media.Bridge;

public sealed class MediaBridgeOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_the_source_queue_is_the_measured_one()
    {
        var o = new MediaBridgeOptions();
        Assert.True(new MediaBridgeOptionsValidator().Validate(null, o).Succeeded);
        // One-way latency through the stand-in SFU (BENCHMARKS.md, "Media bridge"): queue 1000 ms was no slower than 50 ms,
        // 100 ms was slower, 0 played nothing. Changing this needs `node src/media/bridge/test/e2e.js latency` run again.
        Assert.Equal(1000, o.SourceQueueMilliseconds);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(6000)]
    public void Source_queue_outside_what_rtc_node_plays_is_rejected(int queueMs)
    {
        var result = new MediaBridgeOptionsValidator().Validate(null, new MediaBridgeOptions { SourceQueueMilliseconds = queueMs });
        Assert.True(result.Failed);
        Assert.Contains("SourceQueueMilliseconds", result.FailureMessage);
    }

    [Fact]
    public void Recycling_below_the_process_size_is_rejected_with_the_reason()
    {
        var result = new MediaBridgeOptionsValidator().Validate(null, new MediaBridgeOptions { MaxSessionsPerProcess = 30, RecycleAfterSessions = 10 });
        Assert.Contains("recycled before it is full", result.FailureMessage);
    }
}
