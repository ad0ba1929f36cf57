using Platform.Model.Devices;

namespace Platform.Model.Tests;

public class DeviceSelectionTests
{
    private static readonly TrainingDevice Gpu0 = new(DeviceKind.Cuda, 0, "GPU zero", 80L << 30);
    private static readonly TrainingDevice Gpu1 = new(DeviceKind.Cuda, 1, "GPU one", 80L << 30);

    private static TrainingDevice Cpu(int index) => new(DeviceKind.Cpu, index, "a CPU", 1L << 30);

    private static IReadOnlyList<string> Resolve(string? setting, params TrainingDevice[] detectedCuda)
    {
        Assert.True(DeviceSelection.TryParse(setting, out var selection, out var problem), problem);
        return selection.Resolve(detectedCuda, Cpu).Select(d => d.Id).ToList();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" auto ")]
    public void Auto_offers_the_detected_cuda_devices_or_else_one_cpu_slot(string? setting)
    {
        Assert.Equal(["cuda:0", "cuda:1"], Resolve(setting, Gpu0, Gpu1));
        Assert.Equal(["cpu:0"], Resolve(setting));
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("cpu,cuda:0", true)]
    [InlineData("cpu,cpu", false)]
    [InlineData("none", false)]
    public void Only_auto_and_cuda_entries_ask_libtorch_for_cuda_devices(string setting, bool asks)
    {
        Assert.True(DeviceSelection.TryParse(setting, out var selection, out _));
        Assert.Equal(asks, selection.NeedsCudaDetection);
    }

    [Fact]
    public void None_offers_nothing_even_where_cuda_is_detected()
    {
        Assert.Empty(Resolve("none", Gpu0));
        Assert.True(DeviceSelection.TryParse("none", out var selection, out _) && selection.IsNone);
    }

    [Fact]
    public void Each_cpu_entry_is_its_own_slot_numbered_in_order_and_cuda_entries_take_the_detected_device()
    {
        Assert.Equal(["cpu:0", "cpu:1"], Resolve("cpu,cpu"));
        Assert.Equal(["cuda:1", "cpu:0"], Resolve("CUDA:1, cpu", Gpu0, Gpu1));
        Assert.DoesNotContain(Resolve("cuda:1", Gpu0, Gpu1), id => id == "cuda:0");
    }

    [Theory]
    [InlineData("gpu", "has 'gpu', which is not a device")]
    [InlineData("cpu,,cpu", "has '', which is not a device")]
    [InlineData("cuda:x", "has 'cuda:x', which is not a device")]
    [InlineData("cuda:-1", "has 'cuda:-1', which is not a device")]
    [InlineData("cuda:0,cuda:0", "names cuda:0 twice")]
    [InlineData("cpu,none", "mixes 'none' with devices")]
    public void A_malformed_setting_is_refused_with_the_reason(string setting, string reason)
    {
        Assert.False(DeviceSelection.TryParse(setting, out _, out var problem));
        Assert.Contains(reason, problem);
    }

    [Fact]
    public void A_cuda_entry_that_libtorch_does_not_find_is_refused_naming_what_it_finds()
    {
        Assert.True(DeviceSelection.TryParse("cuda:1", out var selection, out _));

        Assert.Contains("no CUDA device here", Assert.Throws<InvalidOperationException>(() => selection.Resolve([], Cpu)).Message);
        Assert.Contains("only cuda:0", Assert.Throws<InvalidOperationException>(() => selection.Resolve([Gpu0], Cpu)).Message);
    }

    [Fact]
    public void A_cpu_slot_describes_this_machine_and_runs_on_libtorchs_cpu_device()
    {
        var slot = DeviceDetection.CpuSlot(1);

        Assert.Equal(("cpu:1", "cpu"), (slot.Id, slot.TorchDevice));
        Assert.True(slot.MemoryBytes > 0);
        Assert.Contains($"{Environment.ProcessorCount} cores", slot.Name);
    }

    [Fact]
    public void This_cpu_only_torchsharp_bundle_detects_no_cuda_device()
    {
        Assert.Empty(DeviceDetection.DetectCuda(out var problem));
        Assert.Null(problem);
    }
}
