package dev.chorus.events;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A sink that records what it receives, in one timeline. */
class RecordingSink implements Sink {

    final List<Object> timeline = new CopyOnWriteArrayList<>();

    @Override
    public void onEvent(Delivery delivery) {
        timeline.add(delivery);
    }

    @Override
    public void onReload(Reload reload) {
        timeline.add(reload);
    }

    @Override
    public void onClosed(String reason) {
        timeline.add("closed: " + reason);
    }

    List<Delivery> deliveries() {
        return timeline.stream()
                .filter(Delivery.class::isInstance)
                .map(Delivery.class::cast)
                .toList();
    }

    List<String> texts() {
        return deliveries().stream().map(d -> d.event().text()).toList();
    }

    List<Reload> reloads() {
        return timeline.stream()
                .filter(Reload.class::isInstance)
                .map(Reload.class::cast)
                .toList();
    }

    String lastId() {
        List<Delivery> all = deliveries();
        return all.get(all.size() - 1).id();
    }
}
