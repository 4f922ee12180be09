"""Every school-age child: roll status, 失学 cases, enrolment and the 适龄儿童台账."""
