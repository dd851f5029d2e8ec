package io.editstream.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LearningRateScheduleTest {

    @Test
    void warmsUpLinearlyThenDecaysAlongACosineToTheFloor() {
        LearningRateSchedule schedule = new LearningRateSchedule(1e-3, 1e-4, 10, 110);
        assertEquals(1e-4, schedule.at(1), 1e-12);
        assertEquals(1e-3, schedule.at(10), 1e-12);
        assertEquals(5.5e-4, schedule.at(60), 1e-12);
        assertEquals(1e-4, schedule.at(110), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> new LearningRateSchedule(1e-3, 1e-4, 10, 10));
    }
}
