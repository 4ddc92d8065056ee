using VoiceActors.LiveKit;

namespace VoiceActors.Media.Bridge;

/// <summary>
/// Finds Node and the bridge script (<see cref="MediaPlaneScripts"/>) without starting anything.
/// </summary>
public static class BridgeLocator
{
    public const string RelativeScript = MediaPlaneScripts.Bridge;

    public static BridgeLaunch? Resolve(MediaBridgeOptions options, string baseDirectory, out string whyNot)
    {
        var node = FindExecutable(options.NodePath);
        if (node is null)
        {
            whyNot = $"Node ({options.NodePath}) was not found on PATH; install Node 20 or set MediaBridge:NodePath";
            return null;
        }
        var script = FindScript(options.ScriptPath, baseDirectory);
        if (script is null)
        {
            whyNot = string.IsNullOrWhiteSpace(options.ScriptPath)
                ? $"the bridge script {RelativeScript} was found neither next to {baseDirectory} nor in a src/ folder above it; set MediaBridge:ScriptPath"
                : $"MediaBridge:ScriptPath {options.ScriptPath} does not exist";
            return null;
        }
        var modules = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(script)!)!, "node_modules", "@livekit", "rtc-node");
        if (!options.FakeRooms && !Directory.Exists(modules))
        {
            whyNot = $"{modules} is missing; run `npm ci` in {Path.GetDirectoryName(Path.GetDirectoryName(script))}";
            return null;
        }
        whyNot = "";
        return new BridgeLaunch(node, script);
    }

    public static string? FindScript(string? configured, string baseDirectory) => MediaPlaneScripts.Find(RelativeScript, configured, baseDirectory);

    public static string? FindExecutable(string name)
    {
        if (name.Contains(Path.DirectorySeparatorChar) || Path.IsPathRooted(name)) return File.Exists(name) ? name : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }
}
