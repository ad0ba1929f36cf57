namespace Platform.Model.Training;

/// <summary>Linear warmup from zero to the peak, then linear decay to zero at the last step.</summary>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps)
{
    /// <summary>Learning rate for the update of step <paramref name="step"/> (0-based).</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        int decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        return Peak * Math.Max(0, TotalSteps - step) / decaySteps;
    }
}
